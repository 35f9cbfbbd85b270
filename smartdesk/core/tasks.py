"""Core periodic jobs. Their registered names are kept from before the core package
(`smartdesk.tasks.*`): beat schedules and queued messages name them."""

from __future__ import annotations

from celery import shared_task
from django.contrib.sessions.models import Session
from django.utils import timezone


@shared_task(name="smartdesk.tasks.clear_expired_sessions", ignore_result=True)
def clear_expired_sessions() -> int:
    """Delete sessions past their expiry; safe to run any number of times."""
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted


@shared_task(name="smartdesk.tasks.maintain_partitions", ignore_result=True)
def maintain_partitions() -> dict[str, list[str]]:
    """Create the partitions of messages and live events ahead of time (PostgreSQL; a no-op
    elsewhere); idempotent, and safe to run from two beats at once."""
    from smartdesk.core import partitions

    return partitions.maintain()
