"""The `hourly` dataset: the hourly chat roll-up rows, within the role's `stat_scope`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db.models import QuerySet

from analytics.exports.dataset import Column, Dataset
from analytics.exports.query import Query, query_filter, roll_up_scope
from analytics.models import HourlyChat


class Hourly(Dataset):
    """The hourly chat roll-up rows: sums, so BI can re-aggregate any way exactly."""

    name = "hourly"
    ordering = ("hour", "pk")
    columns = (
        Column("hour", "datetime"),
        Column("team_id", "int"),
        Column("operator_id", "int"),
        Column("channel", "str"),
        Column("topic", "str"),
        *(
            Column(n, "int")  # the `_sum`s are seconds: whole seconds, like every duration
            for n in (
                "arrived",
                "answered",
                "first_response_sum",
                "sl_counted",
                "sl_met",
                "closed",
                "resolution_sum",
                "reopened",
                "csat_count",
                "csat_sum",
                "csat_positive",
            )
        ),
    )

    def queryset(self, user: Any, query: Query, *, pii: bool) -> QuerySet:
        scope = roll_up_scope(user, query, end=datetime(9999, 1, 1, tzinfo=UTC))
        qs = query_filter(
            HourlyChat.objects.all(),
            Query(
                start=scope.start,
                end=scope.end,
                team_ids=scope.team_ids,
                channels=scope.channels,
                operator_ids=scope.operator_ids,
            ),
            period="hour",
            team="team_id",
            operator="operator_id",
            channel="channel",
        )
        return qs.values("pk", *(c.key for c in self.columns))

    def row(self, v: dict[str, Any], pii: bool) -> dict[str, Any]:
        return {c.key: v[c.key] for c in self.columns}
