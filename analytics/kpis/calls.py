"""What one call contributes (`call_figures`) and how summed call figures become KPIs."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime

from django.conf import settings

from analytics.kpis.totals import Summable, _ratio

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
class CallTotals(Summable):
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
