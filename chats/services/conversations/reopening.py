"""A conversation open again, woken from a snooze or reopened after a close: back to the
operator who had it if they are online with room, otherwise to its team's queue."""

from __future__ import annotations

from typing import Any

from chats.events import publish_conversation_changed
from chats.models import Conversation, ConversationEvent
from chats.services import distribution
from chats.services.common import _record
from chats.services.distribution import FIELDS as DISTRIBUTION_FIELDS

Status = Conversation.Status
EventType = ConversationEvent.Type

# The snooze fields of a conversation that is not snoozed.
NOT_SNOOZED: dict[str, Any] = {
    "snoozed_until": None,
    "snooze_until_reply": False,
    "snooze_reason": "",
}


def _back_to_open(
    locked: Conversation, *, actor: Any, cause: str, event: str, mode: str, **reset: Any
) -> Conversation:
    """Open the locked conversation with `reset` fields set, keep its operator only if they
    have room, and record `event` (naming the operator it went back to the queue from)."""
    before = distribution.snapshot(locked)
    locked.status = Status.OPEN
    for name, value in reset.items():
        setattr(locked, name, value)
    distribution.settle(locked, before, keep_if_room=True, mode=mode)
    locked.save(update_fields=["status", *reset, *DISTRIBUTION_FIELDS, "updated_at"])
    extra = (
        {"to_queue_from": before.assignee_id} if before.assignee_id != locked.assignee_id else {}
    )
    _record(locked, event, actor, cause=cause, **extra)
    publish_conversation_changed(locked, change=event, previous_assignee_id=before.assignee_id)
    return locked


def _wake(locked: Conversation, *, actor: Any, cause: str) -> Conversation:
    """Awake again: the snooze's time came, the customer replied, or an operator woke it."""
    return _back_to_open(
        locked, actor=actor, cause=cause, event=EventType.WOKE, mode="woken", **NOT_SNOOZED
    )


def _reopen(locked: Conversation, *, actor: Any, cause: str) -> Conversation:
    """Open again after a close: by an operator, or by the customer writing within the window."""
    return _back_to_open(
        locked, actor=actor, cause=cause, event=EventType.REOPENED, mode="reopened", closed_at=None
    )
