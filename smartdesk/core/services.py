from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from smartdesk.core import partitions
from smartdesk.core.models import LiveEvent


def live_events_prune() -> int:
    """Forget live events older than the replay window; a browser further behind reloads.

    On PostgreSQL the days wholly past the window go as whole partitions (no row-by-row
    delete, no bloat); the rows of the day the cutoff falls in are deleted."""
    cutoff = timezone.now() - timedelta(hours=settings.LIVE_EVENT_RETENTION_HOURS)
    partitions.drop_partitions_before(partitions.LIVE_EVENTS, cutoff)
    deleted, _ = LiveEvent.objects.filter(created_at__lt=cutoff).delete()
    return deleted
