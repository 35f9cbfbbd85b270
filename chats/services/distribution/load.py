"""Operators' load: the snapshot a service takes before changing a conversation, `settle` after
it (release, charge, `assigned_at`, `queued_at`, and the passes it requests), the conditional
UPDATEs on the operator's row, and the refusal when an operator has no room."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from django.db.models import F, Value
from django.db.models.functions import Greatest, Least
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import OperatorProfile
from chats.models import Conversation
from chats.selectors import is_waiting
from chats.services.distribution.triggers import request_assignment, request_fill
from smartdesk.core import metrics
from smartdesk.core.oncommit import after_commit

Status = Conversation.Status
Presence = OperatorProfile.Presence

# The fields `settle` may change on the conversation; services add them to `update_fields`.
FIELDS = ["assignee", "assigned_at", "queued_at"]


class AtCapacity(Exception):
    """The operator has no room for this conversation."""

    def __init__(self, profile: OperatorProfile | None, weight: int) -> None:
        self.profile = profile
        self.weight = weight
        super().__init__("at capacity")


def over_capacity_message(error: AtCapacity) -> str:
    profile = error.profile
    if profile is None:
        return _("This operator cannot take conversations.")
    return _(
        "%(name)s is at capacity (%(load)d of %(capacity)d); "
        "only a role allowed to exceed capacity can add more."
    ) % {"name": profile.user, "load": profile.load, "capacity": profile.capacity}


# --- what a change moves ----------------------------------------------------------------------


def _counts(conversation: Conversation) -> bool:
    """Whether the conversation weighs on its assignee's load."""
    return (
        conversation.assignee_id is not None
        and conversation.status == Status.OPEN
        and conversation.deleted_at is None
    )


class Snapshot(NamedTuple):
    user_id: int | None  # whose load the conversation weighs on (None: nobody's)
    assignee_id: int | None
    weight: int
    waiting: bool


def snapshot(conversation: Conversation) -> Snapshot:
    """Take before changing a locked conversation; hand to `settle` after."""
    return Snapshot(
        conversation.assignee_id if _counts(conversation) else None,
        conversation.assignee_id,
        conversation.load_weight,
        is_waiting(conversation),
    )


# --- operators' load --------------------------------------------------------------------------


def _charge(user_id: int, weight: int, *, now: datetime, force: bool, online: bool) -> bool:
    """Add `weight` to the operator's load if it fits (or anyway with `force`, recording the
    excess as overload). One UPDATE on the operator's row; True if it was charged."""
    rows = OperatorProfile.objects.filter(user_id=user_id)
    if online:
        rows = rows.filter(presence=Presence.ONLINE)
    if force:
        return bool(
            rows.update(
                load=F("load") + weight,
                overload=Greatest(F("overload"), F("load") + weight - F("capacity")),
                last_assigned_at=now,
            )
        )
    return bool(
        rows.filter(load__lte=F("capacity") - weight).update(
            load=F("load") + weight, last_assigned_at=now
        )
    )


def _release(user_id: int, weight: int) -> None:
    OperatorProfile.objects.filter(user_id=user_id).update(
        load=Greatest(Value(0), F("load") - weight),
        overload=Greatest(Value(0), Least(F("overload"), F("load") - weight - F("capacity"))),
    )


def settle(
    conversation: Conversation,
    before: Snapshot,
    *,
    now: datetime | None = None,
    force: bool = False,
    keep_if_room: bool = False,
    mode: str = "manual",
    exclude_user_id: int | None = None,
) -> bool:
    """Bring the loads, `assigned_at` and `queued_at` in line with the conversation's new state
    (call it before saving, with `FIELDS` in `update_fields`), and request what should follow.

    A new assignee is charged within their capacity, or beyond it with `force` (returns True
    then); otherwise `AtCapacity` is raised and the transaction should roll back. With
    `keep_if_room` (a conversation waking up or reopening with its operator still on it) an
    assignee who is not online or has no room lets it go back to the queue instead.
    """
    now = now or timezone.now()
    over = False
    after_user = conversation.assignee_id if _counts(conversation) else None
    if after_user == before.user_id and conversation.load_weight == before.weight:
        pass  # the same load on the same operator (or on nobody): nothing to move
    else:
        if before.user_id is not None:
            _release(before.user_id, before.weight)
        if after_user is not None:
            over = _charge_new(conversation, before, now=now, force=force, keep=keep_if_room)
    if conversation.assignee_id is not None and conversation.assignee_id != before.assignee_id:
        conversation.assigned_at = now
        queued_at = conversation.queued_at
        after_commit(metrics.record_assignment, mode, queued_at, now, name="assignment-metric")
    elif conversation.assignee_id is None:
        conversation.assigned_at = None
    waiting = is_waiting(conversation)
    if waiting and not before.waiting:
        conversation.queued_at = now
        # Not straight back to the operator who just let it go (they still may get it from
        # the sweep if nobody else can take it).
        request_assignment(conversation.pk, exclude_user_id=exclude_user_id)
    freed = before.user_id
    if freed is not None and (conversation.assignee_id != freed or not _counts(conversation)):
        request_fill([freed])
    return over


def _charge_new(
    conversation: Conversation, before: Snapshot, *, now: datetime, force: bool, keep: bool
) -> bool:
    """Charge the conversation's (new) operator; True when it went beyond capacity."""
    user_id = conversation.assignee_id
    if user_id is None:
        return False
    weight = conversation.load_weight
    if keep and user_id == before.assignee_id:
        if not _charge(user_id, weight, now=now, force=False, online=True):
            conversation.assignee = None  # not online or no room: back to the queue
        return False
    if _charge(user_id, weight, now=now, force=False, online=False):
        return False
    if not force:
        raise AtCapacity(OperatorProfile.objects.filter(user_id=user_id).first(), weight)
    _charge(user_id, weight, now=now, force=True, online=False)
    return True
