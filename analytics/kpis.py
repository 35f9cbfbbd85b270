"""KPI definitions, as code. docs/kpis.md says the same in words; keep them together.

Pure functions over plain values: what one conversation contributes (`conversation_fact`),
what one call contributes (`call_figures`), and how summed figures become KPIs
(`ChatTotals.kpis`, `CallTotals.kpis`). The roll-ups store the sums; the dashboards and the
API turn sums into ratios only at the end, so any grouping adds up exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
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


# --- totals -> KPIs ----------------------------------------------------------------------------


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


@dataclass
class ChatTotals:
    """Summable chat figures (the columns of `HourlyChat`)."""

    arrived: int = 0
    answered: int = 0
    first_response_sum: float = 0.0
    sl_counted: int = 0
    sl_met: int = 0
    closed: int = 0
    resolution_sum: float = 0.0
    reopened: int = 0
    csat_count: int = 0
    csat_sum: int = 0
    csat_positive: int = 0

    def add(self, other: Any) -> ChatTotals:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + (getattr(other, f.name, 0) or 0))
        return self

    def kpis(self) -> dict[str, float | int | None]:
        return {
            "volume": self.arrived,
            "answered": self.answered,
            "first_response_avg": _ratio(self.first_response_sum, self.answered),
            "service_level": _ratio(self.sl_met, self.sl_counted),
            "closed": self.closed,
            "resolution_avg": _ratio(self.resolution_sum, self.closed),
            "reopen_rate": _ratio(self.reopened, self.closed),
            "csat_responses": self.csat_count,
            "csat_avg": _ratio(self.csat_sum, self.csat_count),
            "csat_positive_share": _ratio(self.csat_positive, self.csat_count),
        }


CHAT_SUM_FIELDS = tuple(f.name for f in fields(ChatTotals))


# --- calls -------------------------------------------------------------------------------------

ANSWERED_STATES = {"answered", "completed"}


@dataclass(frozen=True)
class CallRecord:
    """What the call KPIs read of a call (the interface `telephony.Call` provides, see
    `analytics.calls`)."""

    started_at: datetime  # the call began (its hour is the call's hour)
    answered_at: datetime | None
    ended_at: datetime | None
    state: str  # answered | completed | abandoned | missed (| ringing/queued while live)
    queue: str = ""
    team_id: int | None = None
    operator_id: int | None = None
    hold_seconds: float = 0.0
    talk_seconds: float = 0.0
    wrapup_seconds: float = 0.0
    queued_at: datetime | None = None  # entered the queue, when later than started_at

    @property
    def wait_from(self) -> datetime:
        return self.queued_at or self.started_at


@dataclass
class CallTotals:
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    answered_in_sl: int = 0
    abandoned_in_sl: int = 0
    answer_wait_sum: float = 0.0
    talk_sum: float = 0.0
    hold_sum: float = 0.0
    wrapup_sum: float = 0.0
    call_seconds: float = 0.0

    def add(self, other: Any) -> CallTotals:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + (getattr(other, f.name, 0) or 0))
        return self

    def kpis(self, *, sl_variant: str | None = None) -> dict[str, float | int | None]:
        variant = sl_variant or settings.ANALYTICS_CALL_SL_ABANDONS
        if variant == "ignore":
            sl = _ratio(self.answered_in_sl, self.answered)
        elif variant == "for":
            sl = _ratio(self.answered_in_sl + self.abandoned_in_sl, self.answered + self.abandoned)
        else:  # "against", the default
            sl = _ratio(self.answered_in_sl, self.answered + self.abandoned)
        handle = self.talk_sum + self.hold_sum + self.wrapup_sum
        return {
            "offered": self.offered,
            "answered": self.answered,
            "abandoned": self.abandoned,
            "short_abandoned": self.short_abandoned,
            "lost_rate": _ratio(self.abandoned, self.offered),
            "asa": _ratio(self.answer_wait_sum, self.answered),
            "talk_avg": _ratio(self.talk_sum, self.answered),
            "handle_avg": _ratio(handle, self.answered),
            "service_level": sl,
        }


CALL_SUM_FIELDS = tuple(f.name for f in fields(CallTotals))


def call_figures(
    call: CallRecord,
    *,
    sl_seconds: float | None = None,
    short_abandon_seconds: float | None = None,
) -> CallTotals | None:
    """One finished call's contribution (docs/kpis.md, "Calls"); None while it is live.

    Answered: it has `answered_at`. Lost: ended unanswered (abandoned or missed); a lost call
    that waited less than the short-abandon threshold is a short abandon and counts nowhere
    else (not offered, not lost, not in the service level).
    """
    threshold = float(settings.ANALYTICS_CALL_SL_SECONDS if sl_seconds is None else sl_seconds)
    short = float(
        settings.ANALYTICS_SHORT_ABANDON_SECONDS
        if short_abandon_seconds is None
        else short_abandon_seconds
    )
    totals = CallTotals()
    if call.answered_at is not None:
        wait = max((call.answered_at - call.wait_from).total_seconds(), 0.0)
        totals.offered = totals.answered = 1
        totals.answered_in_sl = int(wait <= threshold)
        totals.answer_wait_sum = wait
        totals.talk_sum = call.talk_seconds or 0.0
        totals.hold_sum = call.hold_seconds or 0.0
        totals.wrapup_sum = call.wrapup_seconds or 0.0
        end = call.ended_at or call.answered_at
        totals.call_seconds = max((end - call.started_at).total_seconds(), 0.0)
        return totals
    if call.ended_at is None or call.state not in ("abandoned", "missed"):
        return None
    wait = max((call.ended_at - call.wait_from).total_seconds(), 0.0)
    totals.call_seconds = wait
    if wait < short:
        totals.short_abandoned = 1
        return totals
    totals.offered = totals.abandoned = 1
    totals.abandoned_in_sl = int(wait <= threshold)
    return totals


# --- Erlang C --------------------------------------------------------------------------------


def erlang_c(agents: int, traffic: float) -> float:
    """Probability that a call waits (Erlang C), `traffic` in Erlangs (arrival rate × handle
    time). 1.0 when the agents cannot carry the traffic."""
    if agents <= traffic:
        return 1.0
    # Erlang B by its stable recurrence, then C from B.
    b = 1.0
    for k in range(1, agents + 1):
        b = traffic * b / (k + traffic * b)
    return agents * b / (agents - traffic * (1 - b))


def erlang_service_level(
    agents: int, *, calls_per_hour: float, handle_seconds: float, target_seconds: float
) -> float:
    """Share of calls answered within `target_seconds` with `agents` agents."""
    import math

    if calls_per_hour <= 0:
        return 1.0
    traffic = calls_per_hour * handle_seconds / 3600.0
    if agents <= traffic:
        return 0.0
    pw = erlang_c(agents, traffic)
    return 1.0 - pw * math.exp(-(agents - traffic) * target_seconds / handle_seconds)


def agents_needed(
    *,
    calls_per_hour: float,
    handle_seconds: float,
    target_seconds: float,
    target_level: float,
    max_agents: int = 2000,
) -> int:
    """The fewest agents reaching `target_level` (e.g. 0.8) within `target_seconds`."""
    if calls_per_hour <= 0 or handle_seconds <= 0:
        return 0
    traffic = calls_per_hour * handle_seconds / 3600.0
    agents = max(1, int(traffic))
    while agents < max_agents:
        level = erlang_service_level(
            agents,
            calls_per_hour=calls_per_hour,
            handle_seconds=handle_seconds,
            target_seconds=target_seconds,
        )
        if level >= target_level:
            return agents
        agents += 1
    return max_agents
