from __future__ import annotations

from celery import shared_task
from django.contrib.sessions.models import Session
from django.utils import timezone


@shared_task(ignore_result=True)
def clear_expired_sessions() -> int:
    """Delete sessions past their expiry; safe to run any number of times."""
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted


@shared_task(ignore_result=True)
def maintain_partitions() -> dict[str, list[str]]:
    """Create the partitions of messages and live events ahead of time (PostgreSQL; a no-op
    elsewhere); idempotent, and safe to run from two beats at once."""
    from smartdesk import partitions

    return partitions.maintain()
