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
from chats.models import Conversation, ConversationEvent, TopicRule
from chats.services import distribution
from chats.services.close_undo import (  # the undo's public names stay importable from here
    close_undoable_until,  # noqa: F401
    conversation_close_undo,  # noqa: F401
    settle_close_later,
)
from chats.services.common import ActionRefused, _locked, _record, _refuse_if_deleted
from chats.services.distribution import FIELDS as DISTRIBUTION_FIELDS
from chats.snooze import check_horizon
from smartdesk.oncommit import after_commit

Status = Conversation.Status
EventType = ConversationEvent.Type


def _check_operator(operator: Any) -> None:
    """The target of an assignment or transfer: active, with a profile, and a role that works
    on conversations (the write gate's capability; a looking-only role is given nothing)."""
    if not operator.is_active or profile_of(operator) is None:
        raise ValidationError(_("%(name)s cannot take conversations.") % {"name": operator})
    if not has_capability(operator, Capability.HANDLE_CONVERSATIONS):
        raise ValidationError(
            _("%(name)s's role does not work on conversations; choose someone else.")
            % {"name": operator}
        )


def _clear_snooze(conversation: Conversation) -> None:
    conversation.snoozed_until = None
    conversation.snooze_until_reply = False
    conversation.snooze_reason = ""


def _settle(locked: Conversation, before: distribution.Snapshot, actor: Any, **kwargs: Any) -> bool:
    """Loads, queue and triggers after a change (see `distribution.settle`); a manual
    assignment beyond capacity is refused unless the actor's role may exceed it."""
    force = actor is not None and has_capability(actor, Capability.EXCEED_CAPACITY)
    try:
        return distribution.settle(locked, before, force=force, **kwargs)
    except distribution.AtCapacity as error:
        raise ActionRefused(distribution.over_capacity_message(error)) from None


@transaction.atomic
def conversation_assign(*, conversation: Conversation, operator: Any, actor: Any) -> Conversation:
    """Give the conversation to `operator`, within their capacity (beyond it only for roles
    allowed to, recorded in the event). Idempotent; emits `conversation.changed` on commit."""
    _check_operator(operator)
    locked = _locked(conversation)
    _refuse_if_deleted(locked)
    if locked.status == Status.CLOSED:
        raise ActionRefused(_("Reopen the conversation before assigning it."))
    if locked.assignee_id == operator.pk:
        return locked
    before = distribution.snapshot(locked)
    previous = locked.assignee_id
    locked.assignee = operator
    over = _settle(locked, before, actor)
    locked.save(update_fields=[*DISTRIBUTION_FIELDS, "updated_at"])
    extra = {"over_capacity": True} if over else {}
    _record(locked, EventType.ASSIGNED, actor, from_user=previous, to_user=operator.pk, **extra)
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
    before = distribution.snapshot(locked)
    previous = locked.assignee_id
    locked.assignee = None
    _settle(locked, before, actor, exclude_user_id=previous)
    locked.save(update_fields=[*DISTRIBUTION_FIELDS, "updated_at"])
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
    topic = topic.strip()[:100] if topic is not None else None
    rule = TopicRule.objects.filter(topic__iexact=topic).first() if topic else None
    if team is None and operator is None and rule is None:
        raise ValidationError(_("Choose a team or an operator to transfer to."))
    if operator is not None:
        _check_operator(operator)
    locked = _locked(conversation)
    _refuse_if_deleted(locked)
    if locked.status == Status.CLOSED:
        raise ActionRefused(_("Reopen the conversation before transferring it."))
    before = distribution.snapshot(locked)
    previous_team, previous_assignee = locked.team_id, locked.assignee_id
    if topic is not None:
        # The topic decides the skill needed, and the team unless one was chosen.
        locked.topic = topic
        locked.required_skill_id = rule.required_skill_id if rule is not None else None
        if team is None and rule is not None and rule.team_id is not None:
            team = rule.team
    if team is not None:
        locked.team = team
    locked.assignee = operator  # a team transfer without an operator goes to the queue
    over = _settle(locked, before, actor, exclude_user_id=previous_assignee)
    locked.save(
        update_fields=["team", "topic", "required_skill", *DISTRIBUTION_FIELDS, "updated_at"]
    )
    _record(
        locked,
        EventType.TRANSFERRED,
        actor,
        from_team=previous_team,
        to_team=locked.team_id,
        from_user=previous_assignee,
        to_user=locked.assignee_id,
        reason=reason[:500],
        **({"over_capacity": True} if over else {}),
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
    if until is not None:
        check_horizon(until, now=now)
    locked = _locked(conversation)
    _refuse_if_deleted(locked)
    if locked.status == Status.CLOSED:
        raise ActionRefused(_("A closed conversation cannot be snoozed."))
    before = distribution.snapshot(locked)
    locked.status = Status.SNOOZED
    locked.snoozed_until = until
    locked.snooze_until_reply = wake_on_reply
    locked.snooze_reason = (reason or "").strip()[:200]
    _settle(locked, before, actor)
    locked.save(
        update_fields=[
            "status",
            "snoozed_until",
            "snooze_until_reply",
            "snooze_reason",
            *DISTRIBUTION_FIELDS,
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
    """Awake again: back to the operator who had it if they are online with room, otherwise
    to the team queue."""
    before = distribution.snapshot(locked)
    locked.status = Status.OPEN
    _clear_snooze(locked)
    distribution.settle(locked, before, keep_if_room=True, mode="woken")
    locked.save(
        update_fields=[
            "status",
            "snoozed_until",
            "snooze_until_reply",
            "snooze_reason",
            *DISTRIBUTION_FIELDS,
            "updated_at",
        ]
    )
    extra = (
        {"to_queue_from": before.assignee_id} if before.assignee_id != locked.assignee_id else {}
    )
    _record(locked, EventType.WOKE, actor, cause=cause, **extra)
    publish_conversation_changed(
        locked, change=EventType.WOKE, previous_assignee_id=before.assignee_id
    )
    return locked


def conversation_wake_if_due(*, conversation_id: int, now: datetime | None = None) -> bool:
    """Wake one conversation whose snooze time has passed; True only for the call that did it.

    Claimed with a conditional UPDATE, so any number of sweeps may race on it: exactly one
    writes the event and notifies the assignee.
    """
    now = now or timezone.now()
    with transaction.atomic():
        # The lookup re-checks the state under the row lock (and skips rows another sweep
        # holds), so only one caller finds it still due.
        due = (
            Conversation.objects.select_for_update(of=("self",), skip_locked=True)
            .select_related("customer", "inbox")
            .filter(
                pk=conversation_id, status=Status.SNOOZED, snoozed_until__lte=now, deleted_at=None
            )
            .first()
        )
        if due is None:
            return False
        _wake(due, actor=None, cause="time")
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
    _clear_snooze(locked)
    _settle(locked, before, actor)
    locked.save(
        update_fields=[
            "status",
            "closed_at",
            "close_settled_at",
            "waiting_since",
            "snoozed_until",
            "snooze_until_reply",
            "snooze_reason",
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


def _reopen(locked: Conversation, *, actor: Any, cause: str) -> Conversation:
    """Open again: back to the operator who had it if they are online with room, otherwise to
    the team queue."""
    before = distribution.snapshot(locked)
    locked.status = Status.OPEN
    locked.closed_at = None
    distribution.settle(locked, before, keep_if_room=True, mode="reopened")
    locked.save(update_fields=["status", "closed_at", *DISTRIBUTION_FIELDS, "updated_at"])
    extra = (
        {"to_queue_from": before.assignee_id} if before.assignee_id != locked.assignee_id else {}
    )
    _record(locked, EventType.REOPENED, actor, cause=cause, **extra)
    publish_conversation_changed(
        locked, change=EventType.REOPENED, previous_assignee_id=before.assignee_id
    )
    return locked


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
