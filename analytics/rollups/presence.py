"""Operator presence: one minute of online time, offered capacity and load per online
operator, counted once a minute however many callers ask."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import OperatorProfile
from analytics.kpis import hour_floor
from analytics.models import HourlyPresence, RollupState


def presence_sample(*, now: datetime | None = None) -> int:
    """One minute of presence for every online operator: online, offered capacity, load.
    Claimed per minute with a conditional UPDATE, so any number of callers count it once."""
    now = now or timezone.now()
    minute = now.replace(second=0, microsecond=0)
    RollupState.objects.get_or_create(pk=1)
    claimed = (
        RollupState.objects.filter(pk=1)
        .filter(Q(presence_sampled_at__isnull=True) | Q(presence_sampled_at__lt=minute))
        .update(presence_sampled_at=minute)
    )
    if claimed != 1:
        return 0
    hour = hour_floor(minute)
    # Online means a live socket: presence that still says "online" after the socket went
    # silent (a closed browser before the away sweep ran, a seeded demo floor) is not time
    # online, so it adds neither online time nor occupancy.
    alive_since = now - timedelta(seconds=settings.PRESENCE_AWAY_AFTER_SECONDS)
    online = OperatorProfile.objects.filter(
        presence=OperatorProfile.Presence.ONLINE,
        user__is_active=True,
        last_seen_at__gte=alive_since,
    ).values_list("user_id", "capacity", "load")
    n = 0
    with transaction.atomic():
        for user_id, capacity, load in online:
            # `load` already includes a call's weight (`busy_load` is the part of it that is
            # not conversations): counting both would overstate occupancy.
            used = min(load, capacity) * 60
            updated = HourlyPresence.objects.filter(hour=hour, operator_id=user_id).update(
                online_seconds=F("online_seconds") + 60,
                slot_seconds=F("slot_seconds") + capacity * 60,
                load_seconds=F("load_seconds") + used,
            )
            if not updated:
                HourlyPresence.objects.create(
                    hour=hour,
                    operator_id=user_id,
                    online_seconds=60,
                    slot_seconds=capacity * 60,
                    load_seconds=used,
                )
            n += 1
    return n
