"""Snoozing a conversation, and waking it: by an operator, or when its time has come (one
conversation, or the sweep over all that are due). A customer's reply wakes it in
`chats.services.messages.inbound`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from chats.events import publish_conversation_changed
from chats.models import Conversation, ConversationEvent
from chats.services import distribution
from chats.services.common import ActionRefused, _locked, _record, _refuse_if_deleted, _settle
from chats.services.conversations.reopening import _wake
from chats.services.distribution import FIELDS as DISTRIBUTION_FIELDS
from chats.snooze import check_horizon

Status = Conversation.Status
EventType = ConversationEvent.Type


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
