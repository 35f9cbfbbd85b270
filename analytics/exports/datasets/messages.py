"""The `messages` dataset: message metadata, one row per message of a conversation the user
may see: never the text."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.db.models.functions import Length

from analytics.exports.dataset import Column, Dataset
from analytics.exports.query import Query, query_filter
from chats.models import Message
from chats.selectors import visible_conversations


class Messages(Dataset):
    """Message metadata, one row per message: never the text."""

    name = "messages"
    ordering = ("created_at", "pk")
    columns = (
        Column("id", "int"),
        Column("conversation_id", "int"),
        Column("channel", "str"),
        Column("kind", "str"),
        Column("author_id", "int"),
        Column("created_at", "datetime"),
        Column("length", "int"),
        Column("attachments", "int"),
        Column("delivery_status", "str"),
        Column("edited_at", "datetime"),
        Column("deleted_at", "datetime"),
    )

    def queryset(self, user: Any, query: Query, *, pii: bool) -> QuerySet:
        qs = query_filter(
            Message.objects.filter(conversation__in=visible_conversations(user)),
            query,
            period="created_at",
            team="conversation__team_id",
            operator="conversation__assignee_id",
            channel="inbox__kind",
            updated=("created_at", "edited_at", "deleted_at"),
        )
        return qs.annotate(length=Length("body")).values(
            "pk",
            "conversation_id",
            "inbox__kind",
            "kind",
            "author_id",
            "created_at",
            "length",
            "attachments",
            "delivery_status",
            "edited_at",
            "deleted_at",
        )

    def row(self, v: dict[str, Any], pii: bool) -> dict[str, Any]:
        return {
            "id": v["pk"],
            "conversation_id": v["conversation_id"],
            "channel": v["inbox__kind"],
            "kind": v["kind"],
            "author_id": v["author_id"],
            "created_at": v["created_at"],
            "length": v["length"],
            "attachments": len(v["attachments"] or []),
            "delivery_status": v["delivery_status"],
            "edited_at": v["edited_at"],
            "deleted_at": v["deleted_at"],
        }
