"""KPI definitions, as code. docs/kpis.md says the same in words; keep them together.

Pure functions over plain values: what one conversation contributes (`conversation_fact`),
what one call contributes (`call_figures`), and how summed figures become KPIs
(`ChatTotals.kpis`, `CallTotals.kpis`). The roll-ups store the sums; the dashboards and the
API turn sums into ratios only at the end, so any grouping adds up exactly.

- `conversations`: a conversation's segments from its audit trail, its facts, its active
  time by hour (`hour_floor`, `HOUR`).
- `totals`: summed chat figures and their KPIs; `Summable`, the adding shared with calls.
- `calls`: what one call contributes and summed call figures with their KPIs.
- `erlang`: Erlang C and the staffing it implies.

The names stay importable from here.
"""

from analytics.kpis.calls import (
    ANSWERED_STATES,
    CALL_SUM_FIELDS,
    CallRecord,
    CallTotals,
    call_figures,
)
from analytics.kpis.conversations import (
    HOUR,
    Event,
    Fact,
    Segment,
    active_seconds_by_hour,
    chat_sl_seconds,
    conversation_fact,
    hour_floor,
    segments,
)
from analytics.kpis.erlang import agents_needed, erlang_c, erlang_service_level
from analytics.kpis.totals import CHAT_SUM_FIELDS, ChatTotals, Summable

__all__ = [
    "ANSWERED_STATES",
    "CALL_SUM_FIELDS",
    "CHAT_SUM_FIELDS",
    "HOUR",
    "CallRecord",
    "CallTotals",
    "ChatTotals",
    "Event",
    "Fact",
    "Segment",
    "Summable",
    "active_seconds_by_hour",
    "agents_needed",
    "call_figures",
    "chat_sl_seconds",
    "conversation_fact",
    "erlang_c",
    "erlang_service_level",
    "hour_floor",
    "segments",
]
