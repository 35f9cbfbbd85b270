"""The hourly rows of some UTC hours, replaced from the facts (chats, activity, CSAT) and from
`telephony.Call` (calls); one transaction a chunk of hours."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncHour
from django.utils import timezone

from analytics import calls as call_source
from analytics.kpis import (
    CALL_SUM_FIELDS,
    HOUR,
    CallRecord,
    CallTotals,
    active_seconds_by_hour,
    call_figures,
    hour_floor,
)
from analytics.models import ConversationFact, CsatResponse, HourlyActivity, HourlyCall, HourlyChat
from analytics.rollups.facts import _dt


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
