"""Every state change of a conversation. Each runs in one transaction on a locked row, writes
its `ConversationEvent` and publishes its live event on commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.access import Capability, has_capability, profile_of
from accounts.models import Team
from chats.events import publish_conversation_changed
from chats.models import Conversation, ConversationEvent

Status = Conversation.Status
EventType = ConversationEvent.Type


class ActionRefused(Exception):
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


def _check_operator(operator: Any) -> None:
    if not operator.is_active or profile_of(operator) is None:
        raise ValidationError(_("%(name)s cannot take conversations.") % {"name": operator})


def _clear_snooze(conversation: Conversation) -> None:
    conversation.snoozed_until = None
    conversation.snooze_until_reply = False
    conversation.snooze_reason = ""


@transaction.atomic
def conversation_assign(*, conversation: Conversation, operator: Any, actor: Any) -> Conversation:
    """Give the conversation to `operator`. Idempotent; emits `conversation.changed` on commit."""
    _check_operator(operator)
    locked = _locked(conversation)
    _refuse_if_deleted(locked)
    if locked.status == Status.CLOSED:
        raise ActionRefused(_("Reopen the conversation before assigning it."))
    if locked.assignee_id == operator.pk:
        return locked
    previous = locked.assignee_id
    locked.assignee = operator
    locked.save(update_fields=["assignee", "updated_at"])
    _record(locked, EventType.ASSIGNED, actor, from_user=previous, to_user=operator.pk)
    publish_conversation_changed(locked, change=EventType.ASSIGNED, previous_assignee_id=previous)
    return locked


@transaction.atomic
def conversation_take(*, conversation: Conversation, actor: Any) -> Conversation:
    """Assign to me, if nobody else has it: two operators clicking "take" on the same queued
    conversation get one success and one refusal, never a silent swap."""
    locked = _locked(conversation)
    _refuse_if_deleted(locked)
    if locked.status == Status.CLOSED:
        raise ActionRefused(_("Reopen the conversation before assigning it."))
    if locked.assignee_id not in (None, actor.pk):
        raise ActionRefused(
            _("%(name)s has already taken this conversation.") % {"name": locked.assignee}
        )
    return conversation_assign(conversation=locked, operator=actor, actor=actor)


@transaction.atomic
def conversation_unassign(*, conversation: Conversation, actor: Any) -> Conversation:
    """Put the conversation back in its team's queue."""
    locked = _locked(conversation)
    _refuse_if_deleted(locked)
    if locked.assignee_id is None:
        return locked
    previous = locked.assignee_id
    locked.assignee = None
    locked.save(update_fields=["assignee", "updated_at"])
    _record(locked, EventType.UNASSIGNED, actor, from_user=previous)
    publish_conversation_changed(locked, change=EventType.UNASSIGNED, previous_assignee_id=previous)
    return locked


@transaction.atomic
def conversation_transfer(
    *,
    conversation: Conversation,
    actor: Any,
    reason: str,
    team: Team | None = None,
    operator: Any = None,
    topic: str | None = None,
) -> Conversation:
    """Move the conversation to another team (its queue) and/or operator, with a reason."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("Say why the conversation is transferred."))
    if team is None and operator is None:
        raise ValidationError(_("Choose a team or an operator to transfer to."))
    if operator is not None:
        _check_operator(operator)
    locked = _locked(conversation)
    _refuse_if_deleted(locked)
    if locked.status == Status.CLOSED:
        raise ActionRefused(_("Reopen the conversation before transferring it."))
    previous_team, previous_assignee = locked.team_id, locked.assignee_id
    if team is not None:
        locked.team = team
    locked.assignee = operator  # a team transfer without an operator goes to the queue
    if topic is not None:
        locked.topic = topic[:100]
    locked.save(update_fields=["team", "assignee", "topic", "updated_at"])
    _record(
        locked,
        EventType.TRANSFERRED,
        actor,
        from_team=previous_team,
        to_team=locked.team_id,
        from_user=previous_assignee,
        to_user=locked.assignee_id,
        reason=reason[:500],
    )
    publish_conversation_changed(
        locked,
        change=EventType.TRANSFERRED,
        previous_team_id=previous_team,
        previous_assignee_id=previous_assignee,
    )
    return locked


@transaction.atomic
def conversation_set_priority(
    *, conversation: Conversation, priority: int, actor: Any
) -> Conversation:
    if priority not in Conversation.Priority.values:
        raise ValidationError(_("Unknown priority."))
    locked = _locked(conversation)
    _refuse_if_deleted(locked)
    if locked.priority == priority:
        return locked
    previous = locked.priority
    locked.priority = priority
    locked.save(update_fields=["priority", "updated_at"])
    _record(locked, EventType.PRIORITY, actor, before=previous, after=priority)
    publish_conversation_changed(locked, change=EventType.PRIORITY)
    return locked


@transaction.atomic
def conversation_snooze(
    *,
    conversation: Conversation,
    actor: Any,
    until: datetime | None = None,
    wake_on_reply: bool = True,
    reason: str = "",
    now: datetime | None = None,
) -> Conversation:
    """Snooze until `until`, until the customer replies, or whichever comes first.

    `wake_on_reply=False` with a time sleeps through replies until the time.
    """
    now = now or timezone.now()
    if until is None and not wake_on_reply:
        raise ValidationError(_("A snooze needs a time, or to wait for the customer's reply."))
    if until is not None and until <= now:
        raise ValidationError(_("The wake-up time must be in the future."))
    locked = _locked(conversation)
    _refuse_if_deleted(locked)
    if locked.status == Status.CLOSED:
        raise ActionRefused(_("A closed conversation cannot be snoozed."))
    locked.status = Status.SNOOZED
    locked.snoozed_until = until
    locked.snooze_until_reply = wake_on_reply
    locked.snooze_reason = (reason or "").strip()[:200]
    locked.save(
        update_fields=[
            "status",
            "snoozed_until",
            "snooze_until_reply",
            "snooze_reason",
            "updated_at",
        ]
    )
    _record(
        locked,
        EventType.SNOOZED,
        actor,
        until=until.isoformat() if until else None,
        wake_on_reply=wake_on_reply,
        reason=locked.snooze_reason,
    )
    publish_conversation_changed(locked, change=EventType.SNOOZED)
    return locked


@transaction.atomic
def conversation_unsnooze(*, conversation: Conversation, actor: Any) -> Conversation:
    locked = _locked(conversation)
    _refuse_if_deleted(locked)
    if locked.status != Status.SNOOZED:
        return locked
    return _wake(locked, actor=actor, cause="operator")


def _wake(locked: Conversation, *, actor: Any, cause: str) -> Conversation:
    locked.status = Status.OPEN
    _clear_snooze(locked)
    locked.save(
        update_fields=[
            "status",
            "snoozed_until",
            "snooze_until_reply",
            "snooze_reason",
            "updated_at",
        ]
    )
    _record(locked, EventType.WOKE, actor, cause=cause)
    publish_conversation_changed(locked, change=EventType.WOKE)
    return locked


def conversation_wake_if_due(*, conversation_id: int, now: datetime | None = None) -> bool:
    """Wake one conversation whose snooze time has passed; True only for the call that did it.

    Claimed with a conditional UPDATE, so any number of sweeps may race on it: exactly one
    writes the event and notifies the assignee.
    """
    now = now or timezone.now()
    with transaction.atomic():
        claimed = Conversation.objects.filter(
            pk=conversation_id, status=Status.SNOOZED, snoozed_until__lte=now, deleted_at=None
        ).update(
            status=Status.OPEN,
            snoozed_until=None,
            snooze_until_reply=False,
            snooze_reason="",
            updated_at=now,
        )
        if claimed != 1:
            return False
        conversation = Conversation.objects.get(pk=conversation_id)
        _record(conversation, EventType.WOKE, None, cause="time")
        publish_conversation_changed(conversation, change=EventType.WOKE)
    return True


def conversations_wake_due(*, now: datetime | None = None, batch_size: int = 500) -> int:
    """Wake every conversation whose snooze time has passed, however long ago: the sweep.

    Works in bounded batches until none is left; returns how many this call woke.
    """
    now = now or timezone.now()
    woken = 0
    while True:
        due = list(
            Conversation.objects.filter(
                status=Status.SNOOZED, snoozed_until__lte=now, deleted_at=None
            )
            .order_by("snoozed_until", "pk")
            .values_list("pk", flat=True)[:batch_size]
        )
        if not due:
            return woken
        woken += sum(conversation_wake_if_due(conversation_id=pk, now=now) for pk in due)


@transaction.atomic
def conversation_close(*, conversation: Conversation, actor: Any) -> Conversation:
    locked = _locked(conversation)
    _refuse_if_deleted(locked)
    if locked.status == Status.CLOSED:
        return locked
    locked.status = Status.CLOSED
    locked.closed_at = timezone.now()
    locked.waiting_since = None
    _clear_snooze(locked)
    locked.save(
        update_fields=[
            "status",
            "closed_at",
            "waiting_since",
            "snoozed_until",
            "snooze_until_reply",
            "snooze_reason",
            "updated_at",
        ]
    )
    _record(locked, EventType.CLOSED, actor)
    publish_conversation_changed(locked, change=EventType.CLOSED)
    return locked


@transaction.atomic
def conversation_reopen(*, conversation: Conversation, actor: Any) -> Conversation:
    locked = _locked(conversation)
    _refuse_if_deleted(locked)
    if locked.status != Status.CLOSED:
        return locked
    return _reopen(locked, actor=actor, cause="operator")


def _reopen(locked: Conversation, *, actor: Any, cause: str) -> Conversation:
    locked.status = Status.OPEN
    locked.closed_at = None
    locked.save(update_fields=["status", "closed_at", "updated_at"])
    _record(locked, EventType.REOPENED, actor, cause=cause)
    publish_conversation_changed(locked, change=EventType.REOPENED)
    return locked


@transaction.atomic
def conversation_delete(
    *, conversation: Conversation, actor: Any, reason: str = ""
) -> Conversation:
    """Soft delete: hidden from everyone but those who may restore it; nothing is erased."""
    locked = _locked(conversation)
    if locked.deleted_at is not None:
        return locked
    locked.deleted_at = timezone.now()
    locked.deleted_by = actor
    locked.save(update_fields=["deleted_at", "deleted_by", "updated_at"])
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
    locked.deleted_at = None
    locked.deleted_by = None
    locked.save(update_fields=["deleted_at", "deleted_by", "updated_at"])
    _record(locked, EventType.RESTORED, actor)
    publish_conversation_changed(locked, change=EventType.RESTORED)
    return locked


def conversation_mark_read(*, conversation: Conversation, actor: Any) -> None:
    """The assignee opened the thread: nothing unread any more. Not audited."""
    if conversation.assignee_id == actor.pk and conversation.unread_count:
        Conversation.objects.filter(pk=conversation.pk, assignee_id=actor.pk).update(unread_count=0)
        conversation.unread_count = 0
