"""The `events` dataset: the audit trail (assignments, transfers, status changes), one row per
event of a conversation the user may see."""

from __future__ import annotations

import json
from typing import Any

from django.db.models import QuerySet

from analytics.exports.dataset import Column, Dataset, person_name
from analytics.exports.query import Query, query_filter
from chats.models import ConversationEvent
from chats.selectors import visible_conversations


class Events(Dataset):
    """The audit trail: assignments, transfers, status changes, one row per event."""

    name = "events"
    ordering = ("at", "pk")
    columns = (
        Column("id", "int"),
        Column("conversation_id", "int"),
        Column("type", "str"),
        Column("at", "datetime"),
        Column("actor_id", "int"),
        Column("actor", "str"),
        Column("details", "str"),
    )

    def queryset(self, user: Any, query: Query, *, pii: bool) -> QuerySet:
        qs = query_filter(
            ConversationEvent.objects.filter(conversation__in=visible_conversations(user)),
            query,
            period="at",
            team="conversation__team_id",
            operator="conversation__assignee_id",
            channel="conversation__inbox__kind",
            updated=("at",),
        )
        return qs.values(
            "pk",
            "conversation_id",
            "type",
            "at",
            "actor_id",
            "actor__first_name",
            "actor__last_name",
            "actor__username",
            "data",
        )

    def row(self, v: dict[str, Any], pii: bool) -> dict[str, Any]:
        return {
            "id": v["pk"],
            "conversation_id": v["conversation_id"],
            "type": v["type"],
            "at": v["at"],
            "actor_id": v["actor_id"],
            "actor": person_name(
                v["actor__first_name"], v["actor__last_name"], v["actor__username"]
            ),
            "details": json.dumps(v["data"] or {}, ensure_ascii=False, sort_keys=True),
        }
