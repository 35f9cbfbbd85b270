"""The runs: the periodic incremental roll-up and the rebuild from the records, serialised by
the row lock of `RollupState`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Min, Q
from django.utils import timezone

from analytics import calls as call_source
from analytics.kpis import HOUR, hour_floor
from analytics.models import (
    ConversationFact,
    CsatResponse,
    HourlyActivity,
    HourlyCall,
    HourlyChat,
    RollupState,
)
from analytics.rollups.facts import BATCH, facts_refresh
from analytics.rollups.hours import rollup_hours
from chats.models import Conversation, ConversationEvent
from smartdesk.core.updates import model_update
from telephony.models import Call

# Re-read a little before the watermark: a transaction that started before the last run and
# committed after it stamped its rows with a time the last run had already passed.
OVERLAP = timedelta(minutes=5)


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
        model_update(state, watermark=now, last_run_at=now, last_run_hours=result.get("hours", 0))
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
            Call.objects.aggregate(m=Min("started_at"))["m"],
        ]
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
        model_update(state, watermark=now, last_run_at=now, last_run_hours=result["hours"])
    return result
