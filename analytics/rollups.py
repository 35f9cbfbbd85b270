"""Keeping the roll-ups: per-conversation facts, then hourly sums. Every write of the
statistics tables happens here.

- `facts_refresh(conversation_ids)` recomputes the facts of some conversations and returns
  the UTC hours whose figures that changed;
- `rollup_hours(hours)` replaces the hourly rows of those hours from the facts (chats,
  activity, CSAT) and from `telephony.Call` (calls, when it exists);
- `rollup_incremental()` is the periodic task: what changed since the watermark;
- `rollup_rebuild()` is `manage.py analytics_rebuild`: everything, from the records;
- `presence_sample()` adds one minute of operator presence, at most once a minute.

Runs are serialised by the row lock of `RollupState`; replacing an hour is one transaction,
so a reader sees an hour before or after, never half of it.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Min, OuterRef, Q, Subquery, Sum
from django.db.models.functions import TruncHour
from django.utils import timezone

from accounts.models import OperatorProfile
from analytics import calls as call_source
from analytics.kpis import (
    CALL_SUM_FIELDS,
    HOUR,
    CallRecord,
    CallTotals,
    Event,
    active_seconds_by_hour,
    call_figures,
    conversation_fact,
    hour_floor,
)
from analytics.models import (
    ConversationFact,
    CsatResponse,
    HourlyActivity,
    HourlyCall,
    HourlyChat,
    HourlyPresence,
    RollupState,
)
from chats.models import Conversation, ConversationEvent, Message

log = logging.getLogger(__name__)

# Re-read a little before the watermark: a transaction that started before the last run and
# committed after it stamped its rows with a time the last run had already passed.
OVERLAP = timedelta(minutes=5)
BATCH = 2000
_EVENT_TYPES = ["snoozed", "woke", "closed", "reopened", "deleted", "restored"]
_FACT_FIELDS = [f.name for f in ConversationFact._meta.concrete_fields if f.name != "conversation"]


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _hours_of(fact: ConversationFact | None, now: datetime) -> set[datetime]:
    if fact is None:
        return set()
    hours = {fact.arrived_hour}
    if fact.closed_hour is not None:
        hours.add(fact.closed_hour)
    for start, end in fact.active_spans:
        cursor = hour_floor(_dt(start))  # type: ignore[arg-type]
        stop = _dt(end) or now
        while cursor < stop:
            hours.add(cursor)
            cursor += HOUR
    return hours


def facts_refresh(*, conversation_ids: Iterable[int], now: datetime | None = None) -> set[datetime]:
    """Recompute the facts of these conversations; the hours whose figures they touch (before
    and after the change)."""
    now = now or timezone.now()
    ids = sorted(set(conversation_ids))
    dirty: set[datetime] = set()
    for i in range(0, len(ids), BATCH):
        dirty |= _facts_batch(ids[i : i + BATCH], now)
    return dirty


def _facts_batch(ids: list[int], now: datetime) -> set[datetime]:
    first_responder = (
        Message.objects.filter(conversation=OuterRef("pk"), kind=Message.Kind.OUTBOUND)
        .order_by("created_at", "pk")
        .values("author_id")[:1]
    )
    rows = list(
        Conversation.objects.filter(pk__in=ids)
        .annotate(first_responder=Subquery(first_responder))
        .values(
            "pk",
            "team_id",
            "assignee_id",
            "inbox_id",
            "inbox__kind",
            "topic",
            "deleted_at",
            "created_at",
            "first_response_at",
            "closed_at",
            "status",
            "first_responder",
        )
    )
    events: dict[int, list[Event]] = defaultdict(list)
    for cid, type_, at, data in ConversationEvent.objects.filter(
        conversation_id__in=ids, type__in=_EVENT_TYPES
    ).values_list("conversation_id", "type", "at", "data"):
        events[cid].append(Event(type_, at, data or {}))
    old = {f.conversation_id: f for f in ConversationFact.objects.filter(conversation_id__in=ids)}
    dirty: set[datetime] = set()
    new_facts = []
    for row in rows:
        closed_at = row["closed_at"] if row["status"] == Conversation.Status.CLOSED else None
        fact = conversation_fact(
            created_at=row["created_at"],
            first_response_at=row["first_response_at"],
            closed_at=closed_at,
            events=events.get(row["pk"], []),
            now=now,
        )
        spans = [[s.isoformat(), e.isoformat() if e else None] for s, e in fact.active_spans]
        record = ConversationFact(
            conversation_id=row["pk"],
            team_id=row["team_id"],
            operator_id=row["assignee_id"],
            first_responder_id=row["first_responder"],
            inbox_id=row["inbox_id"],
            channel=row["inbox__kind"],
            topic=row["topic"] or "",
            deleted=row["deleted_at"] is not None,
            arrived_at=row["created_at"],
            arrived_hour=hour_floor(row["created_at"]),
            first_response_at=row["first_response_at"],
            first_response_seconds=fact.first_response_seconds,
            wait_seconds=fact.wait_seconds,
            sl_counted=fact.sl_counted,
            sl_met=fact.sl_met,
            closed_at=closed_at,
            closed_hour=hour_floor(closed_at) if closed_at else None,
            resolution_seconds=fact.resolution_seconds,
            reopen_count=fact.reopen_count,
            active_spans=spans,
            active_from=fact.active_spans[0][0] if fact.active_spans else row["created_at"],
            active_until=(
                (fact.active_spans[-1][1] or None) if fact.active_spans else row["created_at"]
            ),
            computed_at=now,
        )
        dirty |= _hours_of(old.get(row["pk"]), now) | _hours_of(record, now)
        new_facts.append(record)
    ConversationFact.objects.bulk_create(
        new_facts,
        update_conflicts=True,
        unique_fields=["conversation"],
        update_fields=_FACT_FIELDS,
        batch_size=500,
    )
    return dirty


# --- hourly rows -------------------------------------------------------------------------------


def _chunks(hours: Iterable[datetime], size: int = 500) -> Iterable[list[datetime]]:
    ordered = sorted(set(hours))
    for i in range(0, len(ordered), size):
        yield ordered[i : i + size]


def rollup_hours(*, hours: Iterable[datetime], now: datetime | None = None) -> int:
    """Replace every hourly row of these UTC hours from the facts and the calls."""
    now = now or timezone.now()
    done = 0
    for chunk in _chunks(hours):
        with transaction.atomic():
            _chat_hours(chunk)
            _activity_hours(chunk, now)
            _call_hours(chunk)
        done += len(chunk)
    return done


def _chat_hours(hours: list[datetime]) -> None:
    rows: dict[tuple, HourlyChat] = {}

    def row(key: tuple) -> HourlyChat:
        if key not in rows:
            hour, team, operator, channel, topic = key
            rows[key] = HourlyChat(
                hour=hour, team_id=team, operator_id=operator, channel=channel, topic=topic
            )
        return rows[key]

    live = ConversationFact.objects.filter(deleted=False)
    for r in (
        live.filter(arrived_hour__in=hours)
        .values("arrived_hour", "team_id", "first_responder_id", "channel", "topic")
        .annotate(
            n=Count("pk"),
            answered=Count("first_response_seconds"),
            frt=Sum("first_response_seconds"),
            counted=Count("pk", filter=Q(sl_counted=True)),
            met=Count("pk", filter=Q(sl_met=True)),
        )
        .order_by()
    ):
        key = (r["arrived_hour"], r["team_id"], r["first_responder_id"], r["channel"], r["topic"])
        h = row(key)
        h.arrived, h.answered, h.first_response_sum = r["n"], r["answered"], r["frt"] or 0.0
        h.sl_counted, h.sl_met = r["counted"], r["met"]
    for r in (
        live.filter(closed_hour__in=hours)
        .values("closed_hour", "team_id", "operator_id", "channel", "topic")
        .annotate(
            n=Count("pk"),
            res=Sum("resolution_seconds"),
            reopened=Count("pk", filter=Q(reopen_count__gt=0)),
        )
        .order_by()
    ):
        h = row((r["closed_hour"], r["team_id"], r["operator_id"], r["channel"], r["topic"]))
        h.closed, h.resolution_sum, h.reopened = r["n"], r["res"] or 0.0, r["reopened"]
    positive = settings.ANALYTICS_CSAT_POSITIVE
    wanted = set(hours)
    for r in (
        CsatResponse.objects.filter(
            rating__isnull=False,
            answered_at__gte=hours[0],
            answered_at__lt=hours[-1] + HOUR,
            conversation__deleted_at__isnull=True,
        )
        .annotate(hour=TruncHour("answered_at", tzinfo=UTC))
        .values("hour", "team_id", "operator_id", "channel", "topic")
        .annotate(
            n=Count("pk"), total=Sum("rating"), pos=Count("pk", filter=Q(rating__gte=positive))
        )
        .order_by()
    ):
        if r["hour"] not in wanted:
            continue
        h = row((r["hour"], r["team_id"], r["operator_id"], r["channel"], r["topic"]))
        h.csat_count, h.csat_sum, h.csat_positive = r["n"], r["total"] or 0, r["pos"]
    HourlyChat.objects.filter(hour__in=hours).delete()
    HourlyChat.objects.bulk_create(rows.values(), batch_size=1000)


def _activity_hours(hours: list[datetime], now: datetime) -> None:
    wanted = set(hours)
    start, end = hours[0], hours[-1] + HOUR
    totals: dict[tuple, float] = defaultdict(float)
    overlapping = ConversationFact.objects.filter(deleted=False, active_from__lt=end).filter(
        Q(active_until__isnull=True) | Q(active_until__gt=start)
    )
    for team, channel, spans in overlapping.values_list(
        "team_id", "channel", "active_spans"
    ).iterator(chunk_size=5000):
        # Clipped to the chunk first: a conversation left open for months must not be split
        # into every hour of its life for every chunk.
        parsed = []
        for s, e in spans:
            lo, hi = max(_dt(s), start), min(_dt(e) or now, end)  # type: ignore[type-var]
            if hi > lo:
                parsed.append((lo, hi))
        for hour, seconds in active_seconds_by_hour(parsed, now=now).items():  # type: ignore[arg-type]
            if hour in wanted:
                totals[(hour, team, channel)] += seconds
    HourlyActivity.objects.filter(hour__in=hours).delete()
    HourlyActivity.objects.bulk_create(
        [
            HourlyActivity(hour=h, team_id=t, channel=c, active_seconds=s)
            for (h, t, c), s in totals.items()
        ],
        batch_size=1000,
    )


def call_rows(records: Iterable[CallRecord]) -> dict[tuple, CallTotals]:
    """Finished calls summed by (hour entered the queue, queue, team, operator)."""
    totals: dict[tuple, CallTotals] = {}
    for record in records:
        figures = call_figures(record)
        if figures is None:
            continue
        key = (hour_floor(record.started_at), record.queue, record.team_id, record.operator_id)
        totals.setdefault(key, CallTotals()).add(figures)
    return totals


def _call_hours(hours: list[datetime]) -> None:
    if call_source.call_model() is None:
        return  # telephony (#7) not installed yet: no call figures at all
    wanted = set(hours)
    records = (
        record
        for _pk, record in call_source.call_records(
            started_from=hours[0], started_to=hours[-1] + HOUR
        )
        if hour_floor(record.started_at) in wanted
    )
    totals = call_rows(records)
    HourlyCall.objects.filter(hour__in=hours).delete()
    HourlyCall.objects.bulk_create(
        [
            HourlyCall(
                hour=hour,
                queue=queue,
                team_id=team,
                operator_id=operator,
                **{name: getattr(t, name) for name in CALL_SUM_FIELDS},
            )
            for (hour, queue, team, operator), t in totals.items()
        ],
        batch_size=1000,
    )


# --- the periodic run and the rebuild ------------------------------------------------------------


def _lock_state() -> RollupState | None:
    RollupState.objects.get_or_create(pk=1)
    return RollupState.objects.select_for_update(skip_locked=True).filter(pk=1).first()


def rollup_incremental(*, now: datetime | None = None) -> dict[str, Any]:
    """Bring the roll-ups up to `now`: facts of conversations changed since the last run (or
    still waiting for a first answer), then the hours those touch, the current and previous
    hour (open chats keep counting), hours with new CSAT answers and changed calls.
    A run that finds another in progress returns at once."""
    now = now or timezone.now()
    with transaction.atomic():
        state = _lock_state()
        if state is None:
            return {"skipped": "busy"}
        if state.watermark is None:
            result = _rebuild(now=now)
        else:
            since = state.watermark - OVERLAP
            ids = set(
                Conversation.objects.filter(updated_at__gte=since).values_list("pk", flat=True)
            )
            ids |= set(
                ConversationEvent.objects.filter(at__gte=since).values_list(
                    "conversation_id", flat=True
                )
            )
            # Still waiting for a first answer and not yet past the threshold: it may cross it.
            ids |= set(
                ConversationFact.objects.filter(
                    first_response_at__isnull=True, closed_at__isnull=True, sl_counted=False
                ).values_list("conversation_id", flat=True)
            )
            hours = facts_refresh(conversation_ids=ids, now=now)
            hours |= {hour_floor(now), hour_floor(now) - HOUR}
            hours |= {
                hour_floor(at)
                for at in CsatResponse.objects.filter(answered_at__gte=since).values_list(
                    "answered_at", flat=True
                )
            }
            hours |= call_source.changed_call_hours(since, now)
            hours = {h for h in hours if h <= now}
            rollup_hours(hours=hours, now=now)
            result = {"conversations": len(ids), "hours": len(hours)}
        state.watermark = now
        state.last_run_at = now
        state.last_run_hours = result.get("hours", 0)
        state.save()
    return result


def _rebuild(
    *, now: datetime, since: datetime | None = None, progress: Callable[[str], None] | None = None
) -> dict[str, Any]:
    conversations = Conversation.objects.all()
    if since is not None:
        # Everything that could touch an hour from `since` on: arrived, or not closed before.
        conversations = conversations.filter(Q(created_at__gte=since) | Q(updated_at__gte=since))
    ids = list(conversations.order_by("pk").values_list("pk", flat=True))
    for i in range(0, len(ids), BATCH * 5):
        facts_refresh(conversation_ids=ids[i : i + BATCH * 5], now=now)
        if progress:
            progress(f"facts {min(i + BATCH * 5, len(ids))}/{len(ids)}")
    first = since
    if first is None:
        earliest = [
            ConversationFact.objects.aggregate(m=Min("arrived_hour"))["m"],
            CsatResponse.objects.aggregate(m=Min("answered_at"))["m"],
        ]
        model = call_source.call_model()
        if model is not None:
            earliest.append(model.objects.aggregate(m=Min("started_at"))["m"])
        known = [e for e in earliest if e is not None]
        first = min(known) if known else now
    hours = []
    cursor = hour_floor(first)
    while cursor <= now:
        hours.append(cursor)
        cursor += HOUR
    if since is None:
        # Rows of hours nothing covers any more (deleted history) go too.
        for model_ in (HourlyChat, HourlyActivity, HourlyCall):
            model_.objects.filter(hour__lt=hour_floor(first)).delete()
    rollup_hours(hours=hours, now=now)
    if progress:
        progress(f"hours {len(hours)}")
    return {"conversations": len(ids), "hours": len(hours)}


def rollup_rebuild(
    *,
    since: datetime | None = None,
    now: datetime | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Recompute facts and hourly rows from the records (all, or from `since` on)."""
    now = now or timezone.now()
    with transaction.atomic():
        RollupState.objects.get_or_create(pk=1)
        state = RollupState.objects.select_for_update().get(pk=1)
        result = _rebuild(now=now, since=since, progress=progress)
        state.watermark = now
        state.last_run_at = now
        state.last_run_hours = result["hours"]
        state.save()
    return result


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
