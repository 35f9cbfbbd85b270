"""Search within the gate: customer name, identity, message text (the GIN index of migration
chats.0002)."""

from __future__ import annotations

import re
from typing import Any

from django.db import connection
from django.db.models import BooleanField, F, Func, Q, QuerySet, Value

from chats.models import Conversation, Message
from chats.selectors.gate import visible_conversations

_WORD = re.compile(r"\w+", re.UNICODE)


def _prefix_tsquery(text: str) -> str:
    """`свет кунжут` -> `свет:* & кунжут:*`: every word, as a prefix, all required."""
    return " & ".join(f"{w}:*" for w in _WORD.findall(text.lower())[:8])


class _TextMatch(Func):
    """`to_tsvector('simple', body) @@ to_tsquery('simple', query)`, as the index spells it."""

    output_field = BooleanField()

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        body_sql, body_params = compiler.compile(self.source_expressions[0])
        query_sql, query_params = compiler.compile(self.source_expressions[1])
        return (
            f"to_tsvector('simple'::regconfig, {body_sql})"
            f" @@ to_tsquery('simple'::regconfig, {query_sql})",
            [*body_params, *query_params],
        )


def search_conversations(user: Any, query: str) -> QuerySet[Conversation]:
    """Conversations within the gate whose customer name, identity (phone, email, handle) or
    message text matches `query`. Newest activity first."""
    query = query.strip()
    visible = visible_conversations(user)
    if not query:
        return visible.none()
    words = _WORD.findall(query)
    name = Q()
    for word in words[:4]:
        name &= Q(customer__first_name__icontains=word) | Q(customer__last_name__icontains=word)
    digits = re.sub(r"\D", "", query)
    identity = Q(customer__identities__value__icontains=query)
    if len(digits) >= 5:
        identity |= Q(customer__identities__value__contains=digits)
    # Deleted messages are never searchable, whoever asks.
    by_text = Message.objects.filter(deleted_at__isnull=True)
    if connection.vendor == "postgresql" and words:
        # Matches the GIN index of migration chats.0002.
        by_text = by_text.filter(_TextMatch(F("body"), Value(_prefix_tsquery(query))))
    else:
        by_text = by_text.filter(body__icontains=query)
    matches = visible.filter(
        Q(pk__in=by_text.values("conversation_id")) | (name if words else Q(pk__in=[])) | identity
    )
    return (
        visible.filter(pk__in=matches.values("pk"))
        .select_related("customer", "inbox", "assignee", "team")
        .order_by(F("last_message_at").desc(nulls_last=True), "-pk")
    )
