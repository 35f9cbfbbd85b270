"""The `calls` dataset: one row per call from `telephony.Call`, through `visible_calls`."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from analytics.exports.dataset import Column, Dataset
from analytics.exports.query import Query, query_filter
from telephony.models import Call
from telephony.selectors import visible_calls


class Calls(Dataset):
    """One row per call from `telephony.Call`, those the user may see (`visible_calls`)."""

    name = "calls"
    ordering = ("started_at", "pk")
    columns = (
        Column("id", "int"),
        Column("queue", "str"),
        Column("operator_id", "int"),
        Column("state", "str"),
        Column("started_at", "datetime"),
        Column("answered_at", "datetime"),
        Column("ended_at", "datetime"),
        Column("wait_seconds", "int"),
        Column("talk_seconds", "int"),
        Column("hold_seconds", "int"),
        Column("wrapup_seconds", "int"),
    )

    def queryset(self, user: Any, query: Query, *, pii: bool) -> QuerySet | None:
        names = {f.name for f in Call._meta.get_fields()}
        qs = query_filter(
            visible_calls(user),
            query,
            period="started_at",
            team="team_id" if "team" in names else None,
            operator="operator_id",
            updated=("updated_at",) if "updated_at" in names else (),
        )
        queue = "queue__name" if Call._meta.get_field("queue").is_relation else "queue"
        return qs.values(
            "pk",
            queue,
            "operator_id",
            "state",
            "started_at",
            "answered_at",
            "ended_at",
            "talk_seconds",
            "hold_seconds",
            "wrapup_seconds",
        )

    def row(self, v: dict[str, Any], pii: bool) -> dict[str, Any]:
        answered, ended = v["answered_at"], v["ended_at"]
        until = answered or ended
        return {
            "id": v["pk"],
            "queue": str(v.get("queue__name", v.get("queue")) or ""),
            "operator_id": v["operator_id"],
            "state": v["state"],
            "started_at": v["started_at"],
            "answered_at": answered,
            "ended_at": ended,
            "wait_seconds": (until - v["started_at"]).total_seconds() if until else None,
            "talk_seconds": float(v["talk_seconds"] or 0),
            "hold_seconds": float(v["hold_seconds"] or 0),
            "wrapup_seconds": float(v["wrapup_seconds"] or 0),
        }
