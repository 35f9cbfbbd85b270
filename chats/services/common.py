"""What every conversation service shares: the row lock, the audit event, the refusals, and
settling the operators' load after a change (refused when it would overfill an operator).

Its own module so that `conversations` and `close_undo` both build on it without importing
each other (`conversations.conversation_close` hands its close to `close_undo`).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from accounts.access import Capability, has_capability
from chats.models import Conversation, ConversationEvent
from chats.services import distribution
from smartdesk.core.api_errors import Refused

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


def _settle(locked: Conversation, before: distribution.Snapshot, actor: Any, **kwargs: Any) -> bool:
    """Loads, queue and triggers after a change (see `distribution.settle`); a manual
    assignment beyond capacity is refused unless the actor's role may exceed it."""
    force = actor is not None and has_capability(actor, Capability.EXCEED_CAPACITY)
    try:
        return distribution.settle(locked, before, force=force, **kwargs)
    except distribution.AtCapacity as error:
        raise ActionRefused(distribution.over_capacity_message(error)) from None
