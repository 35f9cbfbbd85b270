"""Builders of the live events about conversations: flat dicts with a `type`.

They carry ids and the few fields a list row needs; the browser fetches anything more
through the pages, which apply the access gate. The commit-ordered `id` is added on sending.

Who hears an event is who may see what it is about after the change, plus whoever saw it
before (they need the one `conversation.changed` that says it left their sight). The groups
(`admins`, `team.<id>`, `user.<id>`, `conversation.<id>`) follow the scopes, not capabilities,
so what only some roles may see goes to those users one by one: anything about a deleted
conversation after the deletion itself (roles that may restore it), and anything about a
deleted message after the deletion itself (roles that see deleted messages). Both are rare,
so the per-recipient check costs nothing on the floor's hot path
(tests/chats/test_live_event_matrix.py holds every event to this).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, NotRequired, TypedDict

from django.db.models import Q

from accounts.access import Capability, has_capability, role_field
from accounts.models import User
from chats.models import Conversation, ConversationEvent, Message
from chats.selectors import visible_conversations
from smartdesk.core.realtime import (
    ADMINS_GROUP,
    conversation_group,
    publish,
    team_group,
    user_group,
)


class ConversationChanged(TypedDict):
    type: str  # "conversation.changed"
    conversation_id: int
    change: str  # a ConversationEvent.Type value, or "message"
    status: str
    team_id: int | None
    assignee_id: int | None
    priority: int
    # Present (and false) only when the change leaves the list row as it was: a panel-only
    # change (a classification's confidence). Nobody re-renders the row for it.
    row_changed: NotRequired[bool]


class MessageEvent(TypedDict):
    type: str  # "message.created" | "message.updated" | "message.deleted"
    conversation_id: int
    message_id: int
    kind: str
    delivery_status: str
    assignee_id: int | None  # whose conversation: "one of mine" for the page's alerts


def conversation_groups(
    conversation: Conversation,
    *,
    previous_team_id: int | None = None,
    previous_assignee_id: int | None = None,
) -> set[str]:
    """Everyone who sees the conversation now, or saw it before this change."""
    groups = {ADMINS_GROUP, conversation_group(conversation.pk)}
    for team_id in (conversation.team_id, previous_team_id):
        if team_id:
            groups.add(team_group(team_id))
    for user_id in (conversation.assignee_id, previous_assignee_id):
        if user_id:
            groups.add(user_group(user_id))
    return groups


def _audience(conversation: Conversation, capabilities: Collection[Capability]) -> list[int]:
    """The active users who hold `capabilities` and whose gate shows `conversation` (deleted
    or not): one query for the candidates, then the gate itself for each of them."""
    if not capabilities:
        raise ValueError("an audience narrower than the groups needs a capability")
    holders = Q()
    for capability in capabilities:
        holders &= Q(**{f"profile__role__{role_field(capability)}": True})
    candidates = User.objects.filter(holders | Q(is_superuser=True), is_active=True)
    return [
        user.pk
        for user in candidates.order_by("pk")
        if all(has_capability(user, c) for c in capabilities)
        and visible_conversations(user, include_deleted=True).filter(pk=conversation.pk).exists()
    ]


def _publish_to_conversation(
    event: Any,
    conversation: Conversation,
    *,
    groups: set[str],
    message: Message | None = None,
) -> None:
    """Publish `event` to `groups`, or, when it is about a deleted conversation or message
    that only some roles may see, to those users alone."""
    if (
        message is not None
        and message.deleted_at is not None
        and event["type"] != "message.deleted"
    ):
        # The live-event log replays by conversation, without the message rule: so one row
        # per user who may see the deleted message, addressed to them.
        capabilities = [Capability.VIEW_DELETED_MESSAGES]
        if conversation.deleted_at is not None:
            capabilities.append(Capability.RESTORE_CONVERSATIONS)
        for user_id in _audience(conversation, capabilities):
            publish(event, groups=[user_group(user_id)], user_id=user_id)
        return
    if conversation.deleted_at is not None and not (
        event["type"] == "conversation.changed"
        and event["change"] == ConversationEvent.Type.DELETED
    ):
        # The deletion itself went to everyone who saw it; what follows, only to those who
        # may restore it (the log's replay applies the same gate).
        audience = _audience(conversation, [Capability.RESTORE_CONVERSATIONS])
        groups = {user_group(user_id) for user_id in audience}
    publish(event, groups=groups, conversation_id=conversation.pk)


def publish_conversation_changed(
    conversation: Conversation,
    *,
    change: str,
    previous_team_id: int | None = None,
    previous_assignee_id: int | None = None,
    row_changed: bool = True,
) -> None:
    """`row_changed=False` when the change shows only in the thread (never in the list row):
    the event still goes to everyone who sees the conversation (the live-event log replays by
    the gate), but no row is rendered for it."""
    event: ConversationChanged = {
        "type": "conversation.changed",
        "conversation_id": conversation.pk,
        "change": change,
        "status": conversation.status,
        "team_id": conversation.team_id,
        "assignee_id": conversation.assignee_id,
        "priority": conversation.priority,
    }
    if not row_changed:
        event["row_changed"] = False
    _publish_to_conversation(
        event,
        conversation,
        groups=conversation_groups(
            conversation,
            previous_team_id=previous_team_id,
            previous_assignee_id=previous_assignee_id,
        ),
    )


def publish_message(message: Message, *, type: str = "message.created") -> None:
    event: MessageEvent = {
        "type": type,
        "conversation_id": message.conversation_id,
        "message_id": message.pk,
        "kind": message.kind,
        "delivery_status": message.delivery_status,
        "assignee_id": message.conversation.assignee_id,
    }
    conversation = message.conversation
    _publish_to_conversation(
        event, conversation, groups=conversation_groups(conversation), message=message
    )
