"""Summed chat figures and how they become KPIs; the summing shared with the call figures."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Self


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


class Summable:
    """Figures that add up: `add` adds another's figures of the same names to these (a
    missing or empty one counts as 0). Mixed into the dataclasses of summable figures."""

    def add(self, other: Any) -> Self:
        for f in fields(self):  # type: ignore[arg-type]
            setattr(self, f.name, getattr(self, f.name) + (getattr(other, f.name, 0) or 0))
        return self


@dataclass
class ChatTotals(Summable):
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
