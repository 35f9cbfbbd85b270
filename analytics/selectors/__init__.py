"""Reads for the dashboards and the reports API. Figures come from the hourly roll-ups only.

Who sees which figures: the statistics capability opens the dashboard; the role's scope
narrows it like it narrows conversations — `all` sees every team, `teams` the user's teams,
`assigned` only their own figures (`stat_scope`).

- `scope`: the period and dimensions (`Filters`), the viewer's time zone and local days,
  and `stat_scope`.
- `totals`: summed chat and call figures from the roll-ups, by one dimension or in total.
- `dashboard`: the KPI cards, the trend, the operator table, active time by hour, `names`.
- `wallboard`: the live wallboard.

The names stay importable from here.
"""

from analytics.selectors.dashboard import (
    Card,
    OperatorRow,
    active_seconds_by_hour,
    kpi_cards,
    names,
    operator_table,
    trend,
)
from analytics.selectors.scope import GROUPS, Filters, local_day_bounds, stat_scope, viewer_tz
from analytics.selectors.totals import call_totals, chat_totals
from analytics.selectors.wallboard import Wallboard, wallboard

__all__ = [
    "GROUPS",
    "Card",
    "Filters",
    "OperatorRow",
    "Wallboard",
    "active_seconds_by_hour",
    "call_totals",
    "chat_totals",
    "kpi_cards",
    "local_day_bounds",
    "names",
    "operator_table",
    "stat_scope",
    "trend",
    "viewer_tz",
    "wallboard",
]
