"""Closing and reopening a conversation, deleting (softly) and restoring it, and marking it
read. The undo of a close and its settling live in `chats.services.close_undo`."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.access import Capability, has_capability
from chats.events import publish_conversation_changed
from chats.models import Conversation, ConversationEvent
from chats.services import distribution
from chats.services.close_undo import settle_close_later
from chats.services.common import _locked, _record, _refuse_if_deleted, _settle
from chats.services.conversations.reopening import NOT_SNOOZED, _reopen
from chats.services.distribution import FIELDS as DISTRIBUTION_FIELDS
from smartdesk.core.oncommit import after_commit

Status = Conversation.Status
EventType = ConversationEvent.Type


@transaction.atomic
def conversation_close(*, conversation: Conversation, actor: Any) -> Conversation:
    locked = _locked(conversation)
    _refuse_if_deleted(locked)
    if locked.status == Status.CLOSED:
        return locked
    before = distribution.snapshot(locked)
    previous = {  # what an undo puts back (`conversation_close_undo`)
        "status": locked.status,
        "waiting_since": locked.waiting_since.isoformat() if locked.waiting_since else None,
        "snoozed_until": locked.snoozed_until.isoformat() if locked.snoozed_until else None,
        "snooze_until_reply": locked.snooze_until_reply,
        "snooze_reason": locked.snooze_reason,
    }
    locked.status = Status.CLOSED
    locked.closed_at = timezone.now()
    locked.close_settled_at = None  # this close gets its own settle (chats.services.close_undo)
    locked.waiting_since = None
    for name, value in NOT_SNOOZED.items():
        setattr(locked, name, value)
    _settle(locked, before, actor)
    locked.save(
        update_fields=[
            "status",
            "closed_at",
            "close_settled_at",
            "waiting_since",
            *NOT_SNOOZED,
            *DISTRIBUTION_FIELDS,
            "updated_at",
        ]
    )
    _record(locked, EventType.CLOSED, actor, before=previous)
    publish_conversation_changed(locked, change=EventType.CLOSED)
    after_commit(settle_close_later, locked.pk, locked.closed_at, name="conversation-closed")
    return locked


@transaction.atomic
def conversation_reopen(*, conversation: Conversation, actor: Any) -> Conversation:
    locked = _locked(conversation)
    _refuse_if_deleted(locked)
    if locked.status != Status.CLOSED:
        return locked
    return _reopen(locked, actor=actor, cause="operator")


@transaction.atomic
def conversation_delete(
    *, conversation: Conversation, actor: Any, reason: str = ""
) -> Conversation:
    """Soft delete: hidden from everyone but those who may restore it; nothing is erased."""
    locked = _locked(conversation)
    if locked.deleted_at is not None:
        return locked
    before = distribution.snapshot(locked)
    locked.deleted_at = timezone.now()
    locked.deleted_by = actor
    _settle(locked, before, actor)
    locked.save(update_fields=["deleted_at", "deleted_by", *DISTRIBUTION_FIELDS, "updated_at"])
    _record(locked, EventType.DELETED, actor, reason=(reason or "")[:500])
    publish_conversation_changed(locked, change=EventType.DELETED)
    return locked


@transaction.atomic
def conversation_restore(*, conversation: Conversation, actor: Any) -> Conversation:
    """Undo a soft delete; needs the restore capability."""
    if not has_capability(actor, Capability.RESTORE_CONVERSATIONS):
        raise PermissionDenied(_("Your role does not allow restoring conversations."))
    locked = _locked(conversation)
    if locked.deleted_at is None:
        return locked
    before = distribution.snapshot(locked)
    locked.deleted_at = None
    locked.deleted_by = None
    distribution.settle(locked, before, keep_if_room=True, mode="restored")
    locked.save(update_fields=["deleted_at", "deleted_by", *DISTRIBUTION_FIELDS, "updated_at"])
    _record(locked, EventType.RESTORED, actor)
    # The assignee it had may have lost it to the queue on the way back: tell them too.
    publish_conversation_changed(
        locked, change=EventType.RESTORED, previous_assignee_id=before.assignee_id
    )
    return locked


def conversation_mark_read(*, conversation: Conversation, actor: Any) -> None:
    """The assignee opened the thread: nothing unread any more. Not audited."""
    if conversation.assignee_id == actor.pk and conversation.unread_count:
        Conversation.objects.filter(pk=conversation.pk, assignee_id=actor.pk).update(unread_count=0)
        conversation.unread_count = 0
