"""The operators' presence minutes for the replayed shifts, as the per-minute sampler would
have recorded them."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from django.db import transaction

from accounts.models import OperatorProfile
from analytics.kpis import HOUR, hour_floor
from analytics.models import ConversationFact, HourlyPresence
from smartdesk.management.demo_history.play import World
from smartdesk.management.demo_history.traffic import SHIFTS, TZ


def _presence(world: World, days: list[date]) -> int:
    """The presence minutes the sampler would have written for the operators' shifts: online
    for the shift, capacity offered, and the load they carried (their conversations' active
    time, capped at capacity). Replaces those hours' rows of these operators."""
    if not days:
        return 0
    capacity = dict(
        OperatorProfile.objects.filter(user__in=world.operators.values()).values_list(
            "user_id", "capacity"
        )
    )
    hours: dict[tuple[datetime, int], float] = {}
    for day in days:
        for name, (a, b) in SHIFTS.items():
            user = world.operators.get(name)
            if user is None:
                continue
            for h in range(a, b):
                local = datetime.combine(day, time(h % 24), tzinfo=TZ)
                hours[(local.astimezone(UTC), user.pk)] = 0.0
    start = min(h for h, _u in hours)
    end = max(h for h, _u in hours) + HOUR
    for operator_id, spans in ConversationFact.objects.filter(
        operator_id__in=[u.pk for u in world.operators.values()],
        arrived_at__gte=start - timedelta(days=1),
        arrived_at__lt=end,
    ).values_list("operator_id", "active_spans"):
        for s, e in spans:
            lo, hi = datetime.fromisoformat(s), datetime.fromisoformat(e) if e else end
            cursor = lo
            while cursor < hi:
                bucket = hour_floor(cursor)
                stop = min(bucket + HOUR, hi)
                key = (bucket, operator_id)
                if key in hours:
                    hours[key] += (stop - cursor).total_seconds()
                cursor = stop
    rows = []
    for (hour, operator_id), load in hours.items():
        slots = capacity.get(operator_id, 5) * 3600
        rows.append(
            HourlyPresence(
                hour=hour,
                operator_id=operator_id,
                online_seconds=3600,
                slot_seconds=slots,
                load_seconds=int(min(load, slots)),
            )
        )
    with transaction.atomic():
        HourlyPresence.objects.filter(
            hour__in={h for h, _u in hours}, operator_id__in={u for _h, u in hours}
        ).delete()
        HourlyPresence.objects.bulk_create(rows, batch_size=1000)
    return len(rows)
