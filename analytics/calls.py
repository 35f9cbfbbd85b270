"""The call records the statistics read, from `telephony.Call`.

The fields read (docs/kpis.md, "What telephony provides"):

| field | type | meaning |
|---|---|---|
| `started_at` | datetime | the call entered the queue (the caller started waiting) |
| `answered_at` | datetime, null | an operator picked up |
| `ended_at` | datetime, null | the call ended (null while live) |
| `state` | str | `answered` / `completed` / `abandoned` / `missed` (others while live) |
| `queue` | str or FK with `name` | the queue the dialplan routed it to |
| `operator` | FK user, null | who answered |
| `team` | FK team, null (optional) | the queue's team |
| `hold_seconds`, `talk_seconds`, `wrapup_seconds` | number | durations of the answered call |
| `queued_at` | datetime, null (optional) | entered the queue: the wait starts here |
| `direction` | str (optional) | only `inbound` calls are offered; outbound ones are left out |
| `updated_at` | datetime (optional) | incremental roll-ups (else the last 2 days are re-read) |

The call model records the *queue* wait in `hold_seconds` (Asterisk's AgentConnect
`HoldTime`) and has no in-call hold time. So when the model has `queued_at`, `hold_seconds`
is read as queue wait and is **not** added to the handle time; an in-call hold time is read
from `on_hold_seconds` if telephony adds one. Average handle time is then talk + wrap-up
(+ on-hold when recorded).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Model, Q

from analytics.kpis import CallRecord
from telephony.models import Call


def _has(model: type[Model], name: str) -> bool:
    return any(f.name == name for f in model._meta.get_fields())


def _queue_name(value: Any) -> str:
    if value is None:
        return ""
    return str(getattr(value, "name", value))[:100]


def call_records(
    *, started_from: datetime | None = None, started_to: datetime | None = None, ids: Any = None
) -> Iterator[tuple[int, CallRecord]]:
    """(id, record) for the calls that started in [from, to), or with these ids."""
    qs = Call.objects.all()
    queue_field = Call._meta.get_field("queue")
    if queue_field.is_relation:
        qs = qs.select_related("queue")
    if started_from is not None:
        qs = qs.filter(started_at__gte=started_from)
    if started_to is not None:
        qs = qs.filter(started_at__lt=started_to)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    if _has(Call, "direction"):
        qs = qs.filter(direction="inbound")
    has_team = _has(Call, "team")
    has_queued = _has(Call, "queued_at")
    hold_field = "on_hold_seconds" if _has(Call, "on_hold_seconds") else None
    if hold_field is None and not has_queued:
        hold_field = "hold_seconds"  # the documented interface: in-call hold
    for call in qs.order_by("pk").iterator(chunk_size=2000):
        yield (
            call.pk,
            CallRecord(
                started_at=call.started_at,
                queued_at=call.queued_at if has_queued else None,
                answered_at=call.answered_at,
                ended_at=call.ended_at,
                state=str(call.state),
                queue=_queue_name(call.queue),
                team_id=call.team_id if has_team else None,
                operator_id=call.operator_id,
                hold_seconds=float(getattr(call, hold_field) or 0) if hold_field else 0.0,
                talk_seconds=float(call.talk_seconds or 0),
                wrapup_seconds=float(call.wrapup_seconds or 0),
            ),
        )


def changed_call_hours(since: datetime, now: datetime) -> set[datetime]:
    """Hours (of `started_at`) of calls changed since `since`."""
    from analytics.kpis import hour_floor

    if _has(Call, "updated_at"):
        changed = Call.objects.filter(updated_at__gte=since)
    else:
        # No change stamp: whatever ended or started recently may have changed.
        window = since - timedelta(days=2)
        changed = Call.objects.filter(Q(started_at__gte=window) | Q(ended_at__gte=since))
    return {hour_floor(at) for at in changed.values_list("started_at", flat=True).distinct()}
