"""Per-conversation facts (`ConversationFact`): recomputed from the conversation, its first
answer and its events, with the UTC hours whose figures a change touches."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from django.db.models import OuterRef, Subquery
from django.utils import timezone

from analytics.kpis import HOUR, Event, conversation_fact, hour_floor
from analytics.models import ConversationFact
from chats.models import Conversation, ConversationEvent, Message

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
