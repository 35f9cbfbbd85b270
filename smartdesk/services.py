from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from smartdesk.models import LiveEvent


def live_events_prune() -> int:
    """Forget live events older than the replay window; a browser further behind reloads."""
    cutoff = timezone.now() - timedelta(hours=settings.LIVE_EVENT_RETENTION_HOURS)
    deleted, _ = LiveEvent.objects.filter(created_at__lt=cutoff).delete()
    return deleted
