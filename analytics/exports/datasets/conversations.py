"""The `conversations` dataset: one row per conversation, through `visible_conversations`."""

from __future__ import annotations

from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery

from analytics.exports.dataset import Column, Dataset, conversation_link, person_name
from analytics.exports.query import Query, query_filter
from chats.selectors import visible_conversations
from customers.models import Identity


class Conversations(Dataset):
    name = "conversations"
    ordering = ("updated_at", "pk")
    columns = (
        Column("id", "int"),
        Column("link", "str"),
        Column("customer_id", "int"),
        Column("customer_name", "str", pii=True),
        Column("customer_phone", "str", pii=True),
        Column("customer_email", "str", pii=True),
        Column("channel", "str"),
        Column("inbox", "str"),
        Column("team_id", "int"),
        Column("team", "str"),
        Column("operator_id", "int"),
        Column("operator", "str"),
        Column("first_responder_id", "int"),
        Column("status", "str"),
        Column("topic", "str"),
        Column("created_at", "datetime"),
        Column("first_response_at", "datetime"),
        Column("first_response_seconds", "int"),
        Column("closed_at", "datetime"),
        Column("resolution_seconds", "int"),
        Column("reopen_count", "int"),
        Column("csat_rating", "int"),
        Column("csat_comment", "str"),
        Column("updated_at", "datetime"),
    )
    fields = (
        "pk",
        "customer_id",
        "inbox__kind",
        "inbox__name",
        "team_id",
        "team__name",
        "assignee_id",
        "assignee__first_name",
        "assignee__last_name",
        "assignee__username",
        "analytics_fact__first_responder_id",
        "status",
        "topic",
        "created_at",
        "first_response_at",
        "analytics_fact__first_response_seconds",
        "closed_at",
        "analytics_fact__resolution_seconds",
        "analytics_fact__reopen_count",
        "csat__rating",
        "csat__comment",
        "updated_at",
    )

    def queryset(self, user: Any, query: Query, *, pii: bool) -> QuerySet:
        qs = query_filter(
            visible_conversations(user),
            query,
            period="created_at",
            team="team_id",
            operator="assignee_id",
            channel="inbox__kind",
            updated=("updated_at", "csat__answered_at"),  # newly rated counts as updated
        )
        fields = list(self.fields)
        if pii:
            for kind in (Identity.Kind.PHONE, Identity.Kind.EMAIL):
                qs = qs.annotate(
                    **{
                        f"id_{kind}": Subquery(
                            Identity.objects.filter(customer=OuterRef("customer_id"), kind=kind)
                            .order_by("-verified", "pk")
                            .values("value")[:1]
                        )
                    }
                )
                fields.append(f"id_{kind}")
            fields += ["customer__first_name", "customer__last_name"]
        return qs.values(*fields)

    def row(self, v: dict[str, Any], pii: bool) -> dict[str, Any]:
        row = {
            "id": v["pk"],
            "link": conversation_link(v["pk"]),
            "customer_id": v["customer_id"],
        }
        if pii:
            row["customer_name"] = person_name(
                v["customer__first_name"], v["customer__last_name"], ""
            )
            row["customer_phone"] = v.get("id_phone") or ""
            row["customer_email"] = v.get("id_email") or ""
        row.update(
            {
                "channel": v["inbox__kind"],
                "inbox": v["inbox__name"],
                "team_id": v["team_id"],
                "team": v["team__name"] or "",
                "operator_id": v["assignee_id"],
                "operator": person_name(
                    v["assignee__first_name"], v["assignee__last_name"], v["assignee__username"]
                ),
                "first_responder_id": v["analytics_fact__first_responder_id"],
                "status": v["status"],
                "topic": v["topic"],
                "created_at": v["created_at"],
                "first_response_at": v["first_response_at"],
                "first_response_seconds": v["analytics_fact__first_response_seconds"],
                "closed_at": v["closed_at"],
                "resolution_seconds": v["analytics_fact__resolution_seconds"],
                "reopen_count": v["analytics_fact__reopen_count"],
                "csat_rating": v["csat__rating"],
                "csat_comment": v["csat__comment"] or "",
                "updated_at": v["updated_at"],
            }
        )
        return row
