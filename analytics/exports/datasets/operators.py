"""The `operators` dataset: per operator for the period, as on the dashboard (computed from
the roll-ups within the role's `stat_scope`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.utils import timezone

from analytics.exports.dataset import Column, Dataset
from analytics.exports.query import Query, roll_up_scope
from analytics.selectors import operator_table


class Operators(Dataset):
    """Per operator for the period, as on the dashboard (computed from the roll-ups)."""

    name = "operators"
    columns = (
        Column("operator_id", "int"),
        Column("operator", "str"),
        Column("active", "bool"),
        Column("handled", "int"),
        Column("handle_avg_seconds", "int"),
        Column("answered", "int"),
        Column("first_response_avg_seconds", "int"),
        Column("csat_avg", "float", digits=2),
        Column("csat_count", "int"),
        Column("occupancy_percent", "float", digits=1),
        Column("online_seconds", "int"),
        Column("calls_answered", "int"),
        Column("call_handle_avg_seconds", "int"),
    )

    def queryset(self, user: Any, query: Query, *, pii: bool) -> None:
        return None

    def rows(self, user: Any, query: Query, *, pii: bool) -> Iterator[dict[str, Any]]:
        for r in operator_table(roll_up_scope(user, query, end=timezone.now())):
            yield {
                "operator_id": r.operator_id,
                "operator": r.name,
                "active": r.active,
                "handled": r.handled,
                "handle_avg_seconds": r.handle_avg,
                "answered": r.answered,
                "first_response_avg_seconds": r.first_response_avg,
                "csat_avg": r.csat_avg,
                "csat_count": r.csat_count,
                "occupancy_percent": r.occupancy * 100 if r.occupancy is not None else None,
                "online_seconds": r.online_hours * 3600,
                "calls_answered": r.calls_answered,
                "call_handle_avg_seconds": r.call_handle_avg,
            }

    def count(self, user: Any, query: Query) -> int | None:
        return None
