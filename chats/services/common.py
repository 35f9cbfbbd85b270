"""What every conversation service shares: the row lock, the audit event and the refusals.

Its own module so that `conversations` and `close_undo` both build on it without importing
each other (`conversations.conversation_close` hands its close to `close_undo`).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from chats.models import Conversation, ConversationEvent
from smartdesk.api_errors import Refused

Status = Conversation.Status
EventType = ConversationEvent.Type


class ActionRefused(Refused):
    """The action does not fit the conversation's current state (answered as 409)."""


def _locked(conversation: Conversation) -> Conversation:
    return (
        Conversation.objects.select_for_update(of=("self",))
        .select_related("customer", "inbox")
        .get(pk=conversation.pk)
    )


def _record(conversation: Conversation, type: str, actor: Any, **data: Any) -> ConversationEvent:
    return ConversationEvent.objects.create(
        conversation=conversation,
        type=type,
        actor=actor if actor is not None and getattr(actor, "pk", None) else None,
        data=data,
    )


def _refuse_if_deleted(conversation: Conversation) -> None:
    if conversation.deleted_at is not None:
        raise ActionRefused(_("This conversation was deleted."))
