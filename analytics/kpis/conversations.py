"""What one conversation contributes: its life as segments from the audit trail, its KPI
facts (`conversation_fact`), and its active time split into hours."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings

HOUR = timedelta(hours=1)

# Audit event types (chats.ConversationEvent.Type values) that change whether a conversation
# is active. Kept as strings: this module reads the audit trail, it does not import its model.
_PAUSE = {"snoozed": "snoozed", "closed": "closed", "deleted": "deleted"}


def hour_floor(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def chat_sl_seconds() -> float:
    return float(settings.ANALYTICS_CHAT_SL_SECONDS)


@dataclass(frozen=True)
class Event:
    type: str
    at: datetime
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Segment:
    start: datetime
    end: datetime | None  # None: still so now
    state: str  # "active" | "snoozed" | "closed" | "deleted"


def segments(created_at: datetime, events: Sequence[Event]) -> list[Segment]:
    """The conversation's life as consecutive segments, from its audit trail.

    A snooze ends at the first of: the wake-up time it was set with (a due snooze reads as
    open before the sweep writes `woke`), a `woke`, `closed` or `deleted` event. A restore
    returns to the state before the deletion.
    """
    result: list[Segment] = []
    state, since = "active", created_at
    until: datetime | None = None
    before_delete = "active"
    for event in sorted(events, key=lambda e: e.at):
        if state == "snoozed" and until is not None and until <= event.at:
            if until > since:
                result.append(Segment(since, until, "snoozed"))
            state, since, until = "active", max(until, since), None
        new = _transition(state, event.type, before_delete)
        if new is None:
            continue
        if new == "deleted":
            before_delete = state
        if event.at > since:
            result.append(Segment(since, event.at, state))
            since = event.at
        state = new
        until = None
        if new == "snoozed":
            raw = event.data.get("until")
            until = datetime.fromisoformat(raw) if raw else None
    if state == "snoozed" and until is not None:
        if until > since:
            result.append(Segment(since, until, "snoozed"))
        state, since = "active", max(until, since)
    result.append(Segment(since, None, state))
    return result


def _transition(state: str, type: str, before_delete: str) -> str | None:
    """The state after an event of `type`, or None when it changes nothing."""
    if type in _PAUSE:
        return _PAUSE[type]
    if type == "woke":
        return "active" if state == "snoozed" else None
    if type == "reopened":
        return "active" if state == "closed" else None
    if type == "restored":
        return before_delete if state == "deleted" else None
    return None


def _seconds_in(parts: Iterable[Segment], state: str, start: datetime, end: datetime) -> float:
    total = 0.0
    for part in parts:
        if part.state != state:
            continue
        lo = max(part.start, start)
        hi = min(part.end or end, end)
        if hi > lo:
            total += (hi - lo).total_seconds()
    return total


@dataclass
class Fact:
    """One conversation's contribution (mirrors `analytics.models.ConversationFact`)."""

    first_response_seconds: float | None
    wait_seconds: float
    sl_counted: bool
    sl_met: bool
    closed_at: datetime | None
    resolution_seconds: float | None
    reopen_count: int
    active_spans: list[tuple[datetime, datetime | None]]


def conversation_fact(
    *,
    created_at: datetime,
    first_response_at: datetime | None,
    closed_at: datetime | None,
    events: Sequence[Event],
    now: datetime,
    sl_seconds: float | None = None,
) -> Fact:
    """The KPI facts of one conversation (docs/kpis.md, "Chats").

    - first response: net seconds from arrival to the first operator reply, snoozed time not
      counted;
    - wait: the same, up to the reply, the close, or `now` for one still waiting;
    - service level: counted when answered or when the wait passed the threshold (a
      conversation closed unanswered within it — spam, a customer who left — is not);
      met when answered within it;
    - resolution: net active seconds from arrival to the final close (snoozed time and time
      spent closed before a reopen not counted);
    - reopened: how many times it was reopened.
    """
    threshold = chat_sl_seconds() if sl_seconds is None else sl_seconds
    parts = segments(created_at, events)
    last = parts[-1]
    if closed_at is not None and last.state == "active" and closed_at >= last.start:
        # The record is the truth for the final state, even without its audit event
        # (imported history).
        parts[-1:] = [Segment(last.start, closed_at, "active"), Segment(closed_at, None, "closed")]
    first_seconds = (
        _net_between(parts, created_at, first_response_at)
        if first_response_at is not None
        else None
    )
    if first_seconds is not None:
        wait = first_seconds
    else:
        wait_end = closed_at or now
        wait = _net_between(parts, created_at, max(wait_end, created_at))
    counted = first_seconds is not None or wait > threshold
    met = first_seconds is not None and first_seconds <= threshold
    resolution = None
    if closed_at is not None:
        resolution = _seconds_in(parts, "active", created_at, closed_at)
    spans = [(p.start, p.end) for p in parts if p.state == "active" and p.end != p.start]
    return Fact(
        first_response_seconds=first_seconds,
        wait_seconds=wait,
        sl_counted=counted,
        sl_met=met,
        closed_at=closed_at,
        resolution_seconds=resolution,
        reopen_count=sum(1 for e in events if e.type == "reopened"),
        active_spans=spans,
    )


def _net_between(parts: Sequence[Segment], start: datetime, end: datetime) -> float:
    """Seconds between start and end that were not snoozed."""
    gross = max((end - start).total_seconds(), 0.0)
    return gross - _seconds_in(parts, "snoozed", start, end)


def active_seconds_by_hour(
    spans: Iterable[tuple[datetime, datetime | None]], *, now: datetime
) -> dict[datetime, float]:
    """Split active spans into UTC hours: conversation-seconds per hour (a span still open
    runs to `now`)."""
    result: dict[datetime, float] = {}
    for start, end in spans:
        end = end or now
        cursor = start
        while cursor < end:
            bucket = hour_floor(cursor)
            stop = min(bucket + HOUR, end)
            result[bucket] = result.get(bucket, 0.0) + (stop - cursor).total_seconds()
            cursor = stop
    return result
