"""Builders of the live events about conversations: flat dicts with a `type`.

They carry ids and the few fields a list row needs; the browser fetches anything more
through the pages, which apply the access gate. The commit-ordered `id` is added on sending.
"""

from __future__ import annotations

from typing import TypedDict

from chats.models import Conversation, Message
from smartdesk.realtime import ADMINS_GROUP, conversation_group, publish, team_group, user_group


class ConversationChanged(TypedDict):
    type: str  # "conversation.changed"
    conversation_id: int
    change: str  # a ConversationEvent.Type value, or "message"
    status: str
    team_id: int | None
    assignee_id: int | None
    priority: int


class MessageEvent(TypedDict):
    type: str  # "message.created" | "message.updated" | "message.deleted"
    conversation_id: int
    message_id: int
    kind: str
    delivery_status: str


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


def publish_conversation_changed(
    conversation: Conversation,
    *,
    change: str,
    previous_team_id: int | None = None,
    previous_assignee_id: int | None = None,
) -> None:
    event: ConversationChanged = {
        "type": "conversation.changed",
        "conversation_id": conversation.pk,
        "change": change,
        "status": conversation.status,
        "team_id": conversation.team_id,
        "assignee_id": conversation.assignee_id,
        "priority": conversation.priority,
    }
    publish(
        event,
        groups=conversation_groups(
            conversation,
            previous_team_id=previous_team_id,
            previous_assignee_id=previous_assignee_id,
        ),
        conversation_id=conversation.pk,
    )


def publish_message(message: Message, *, type: str = "message.created") -> None:
    event: MessageEvent = {
        "type": type,
        "conversation_id": message.conversation_id,
        "message_id": message.pk,
        "kind": message.kind,
        "delivery_status": message.delivery_status,
    }
    publish(
        event,
        groups=conversation_groups(message.conversation),
        conversation_id=message.conversation_id,
    )
