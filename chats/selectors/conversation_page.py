"""What the conversation page reads about a conversation the caller already got through the
gate: the thread, its audit events and the names they mention, the customer's identities
(masked by the personal-data rule) and other conversations, the reply templates."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from accounts.access import Capability, has_capability
from accounts.models import Team, User
from chats.models import Conversation, ConversationEvent, Message, ReplyTemplate
from chats.selectors.gate import user_team_ids, visible_conversations
from customers.selectors import mask_value  # one masking rule for panel, card and API


def thread_messages_queryset(user: Any, conversation: Conversation) -> QuerySet[Message]:
    """The messages of a conversation the caller already got through the gate; deleted ones
    only for roles that may see them."""
    qs = conversation.messages.select_related("author", "deleted_by")
    if not has_capability(user, Capability.VIEW_DELETED_MESSAGES):
        qs = qs.filter(deleted_at__isnull=True)
    return qs


def thread_messages(user: Any, conversation: Conversation, *, limit: int = 200) -> list[Message]:
    """The newest `limit` messages of the thread, oldest first."""
    qs = thread_messages_queryset(user, conversation)
    newest = list(qs.order_by("-created_at", "-pk")[:limit])
    newest.reverse()
    return newest


def conversation_audit_events(
    conversation: Conversation,
    *,
    types: Iterable[str],
    since: datetime | None = None,
    limit: int = 200,
) -> list[ConversationEvent]:
    """The newest audit events of those `types` (at or after `since`), oldest first, for a
    conversation the caller already got through the gate. One query."""
    events = conversation.events.select_related("actor").filter(type__in=list(types))
    if since is not None:
        events = events.filter(at__gte=since)
    newest = list(events.order_by("-at", "-id")[:limit])
    newest.reverse()
    return newest


def names_mentioned(
    events: Iterable[ConversationEvent],
) -> tuple[dict[int, str], dict[int, str]]:
    """Names of the operators and teams the events' data mention: at most one query each."""
    user_ids: set[int] = set()
    team_ids: set[int] = set()
    for event in events:
        for key, ids in (("from_user", user_ids), ("to_user", user_ids)):
            if isinstance(event.data.get(key), int):
                ids.add(event.data[key])
        for key in ("from_team", "to_team"):
            if isinstance(event.data.get(key), int):
                team_ids.add(event.data[key])
    users = {u.pk: str(u) for u in User.objects.filter(pk__in=user_ids)} if user_ids else {}
    teams = dict(Team.objects.filter(pk__in=team_ids).values_list("pk", "name")) if team_ids else {}
    return users, teams


@dataclass(frozen=True)
class ShownIdentity:
    kind: str
    label: str
    value: str
    verified: bool
    masked: bool


def customer_identities(user: Any, customer: Any) -> list[ShownIdentity]:
    """The customer's identities as this user may see them: in full only with the personal
    data capability, masked otherwise. Pages and the API both show them through this."""
    show = has_capability(user, Capability.VIEW_CUSTOMER_PII)
    return [
        ShownIdentity(
            kind=identity.kind,
            label=identity.get_kind_display(),
            value=identity.value if show else mask_value(identity.value),
            verified=identity.verified,
            masked=not show,
        )
        for identity in customer.identities.order_by("kind", "value")
    ]


def customer_conversations(
    user: Any, conversation: Conversation, *, limit: int = 10
) -> QuerySet[Conversation]:
    """The customer's other conversations, across channels, that the user may see."""
    return (
        visible_conversations(user)
        .filter(customer_id=conversation.customer_id)
        .exclude(pk=conversation.pk)
        .select_related("inbox")
        .order_by("-created_at")[:limit]
    )


def templates_for(user: Any, conversation: Conversation | None = None) -> QuerySet[ReplyTemplate]:
    """Active templates: global ones and those of the user's teams (and the conversation's)."""
    teams = Q(team__in=user_team_ids(user))
    if conversation is not None and conversation.team_id:
        teams |= Q(team_id=conversation.team_id)
    return ReplyTemplate.objects.filter(Q(team__isnull=True) | teams, is_active=True).order_by(
        "shortcut", "language"
    )
