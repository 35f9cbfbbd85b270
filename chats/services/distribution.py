"""Automatic distribution: which operator gets which waiting conversation.

The rules are written down in docs/distribution.md. In short:

* A conversation *waits* when it is open, unassigned, not deleted and has a team: it sits in
  that team's queue, served by priority (urgent first), then by how long it has queued.
* An operator is *eligible* for it when online, active, their role is not archived, works on
  conversations and receives automatic assignments (`Role.receives_auto_assignment`), they are a
  member of the team, hold the required skill if any, and their load plus the conversation's
  weight stays within their capacity. Among the eligible: lowest load ratio, then longest
  since their last assignment (a fair round robin under equal load).
* Load is kept on `OperatorProfile.load` by every service that changes an assignee, a status
  or a deletion (`settle`), in the same transaction, and the database refuses a load above
  `capacity + overload`. A claim is a conditional UPDATE of the operator's row (the row lock
  serialises concurrent claims on one operator) under a lock on the conversation's row (which
  serialises claims on one conversation), so no number of workers can double-assign or
  overfill.
* Triggers only *request* a pass (a Celery task taking ids, idempotent); the sweep is the
  safety net.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.conf import settings
from django.db import transaction
from django.db.models import F, FloatField, Q, QuerySet, Sum, Value
from django.db.models.functions import Cast, Greatest, Least, NullIf
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from accounts.models import OperatorProfile, Team
from chats.events import publish_conversation_changed
from chats.models import Conversation, ConversationEvent
from chats.selectors import QUEUE_ORDER, is_waiting, waiting_q
from smartdesk import metrics
from smartdesk.oncommit import after_commit
from smartdesk.realtime import ADMINS_GROUP, publish, user_group

log = logging.getLogger(__name__)

Status = Conversation.Status
Presence = OperatorProfile.Presence
EventType = ConversationEvent.Type

# The fields `settle` may change on the conversation; services add them to `update_fields`.
FIELDS = ["assignee", "assigned_at", "queued_at"]


class AtCapacity(Exception):
    """The operator has no room for this conversation."""

    def __init__(self, profile: OperatorProfile | None, weight: int) -> None:
        self.profile = profile
        self.weight = weight
        super().__init__("at capacity")


# --- what a conversation weighs, and what it starts with ------------------------------------


def channel_weight(kind: str) -> int:
    return max(1, int(settings.DISTRIBUTION_WEIGHTS.get(kind, 1)))


def initial_priority(customer_id: int) -> int:
    """The priority a new conversation starts with: the highest any hook asks for (#6's
    loyalty tiers raise it for top customers)."""
    priority = Conversation.Priority.NORMAL
    for path in settings.DISTRIBUTION_PRIORITY_HOOKS:
        try:
            asked = import_string(path)(customer_id)
        except Exception:  # a broken hook must not lose the customer's message
            log.exception("priority hook %s failed", path)
            continue
        if asked is not None and asked in Conversation.Priority.values:
            priority = max(priority, asked)
    return priority


# --- the queue --------------------------------------------------------------------------------


# `waiting_q`, `QUEUE_ORDER` and `is_waiting` are reads, in chats.selectors.


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


# --- triggers ---------------------------------------------------------------------------------


def request_assignment(conversation_id: int, *, exclude_user_id: int | None = None) -> None:
    """Ask for this conversation to be placed, after the current transaction commits."""
    from chats.tasks import assign_conversation

    after_commit(
        assign_conversation.delay, conversation_id, exclude_user_id, name="assign-conversation"
    )


def request_fill(user_ids: Iterable[int]) -> None:
    """Ask for these operators to be given waiting work, after commit."""
    from chats.tasks import fill_operator

    for user_id in sorted(set(user_ids)):
        after_commit(fill_operator.delay, user_id, name="fill-operator")


def on_operators_available(sender: Any, user_ids: list[int], **kwargs: Any) -> None:
    """`accounts.services.operators_available` (connected in `chats.apps`), already after
    commit: queue a pass for each operator."""
    from chats.tasks import fill_operator

    for user_id in user_ids:
        after_commit(fill_operator.delay, user_id, name="fill-operator")


# --- choosing an operator ---------------------------------------------------------------------


def eligible_operators(
    conversation: Conversation, *, exclude_user_id: int | None = None
) -> QuerySet[OperatorProfile]:
    """Operators who may take this conversation now, best first."""
    weight = conversation.load_weight
    operators = OperatorProfile.objects.filter(
        presence=Presence.ONLINE,
        user__is_active=True,
        role__archived_at__isnull=True,
        # Only roles that work on conversations and receive automatic assignments (issue 13:
        # supervisors and admins take conversations by hand).
        role__can_handle_conversations=True,
        role__receives_auto_assignment=True,
        teams=conversation.team_id,
        load__lte=F("capacity") - weight,
    )
    if conversation.required_skill_id is not None:
        operators = operators.filter(skills=conversation.required_skill_id)
    if exclude_user_id is not None:
        operators = operators.exclude(user_id=exclude_user_id)
    return operators.annotate(
        ratio=Cast("load", FloatField()) / Cast(NullIf("capacity", 0), FloatField())
    ).order_by(
        "ratio",
        F("last_assigned_at").asc(nulls_first=True),
        "user_id",
    )


def _place(
    conversation: Conversation, *, now: datetime, exclude_user_id: int | None = None
) -> int | None:
    """Give a locked waiting conversation to the best eligible operator who still has room
    when the claim runs; None if nobody does."""
    if not Team.objects.filter(pk=conversation.team_id, auto_assign=True).exists():
        return None
    candidates = eligible_operators(conversation, exclude_user_id=exclude_user_id)
    # First the best operator no other claim holds right now (so parallel workers spread over
    # the floor instead of queueing on one row), then, if every one is held, wait for them in
    # order. Either way the conditional UPDATE has the last word on room.
    unheld = list(
        candidates.select_for_update(of=("self",), skip_locked=True).values_list(
            "user_id", flat=True
        )[:1]
    )
    ordered = unheld + [
        user_id
        for user_id in candidates.values_list("user_id", flat=True)[:25]
        if user_id not in unheld
    ]
    for user_id in ordered:
        before = snapshot(conversation)
        if not _charge(user_id, conversation.load_weight, now=now, force=False, online=True):
            continue  # someone else filled them in the meantime: next best
        conversation.assignee_id = user_id
        conversation.assigned_at = now
        conversation.save(update_fields=[*FIELDS, "updated_at"])
        ConversationEvent.objects.create(
            conversation=conversation,
            type=EventType.ASSIGNED,
            data={"from_user": before.assignee_id, "to_user": user_id, "auto": True},
        )
        after_commit(
            metrics.record_assignment,
            "auto",
            conversation.queued_at,
            now,
            name="assignment-metric",
        )
        publish_conversation_changed(conversation, change=EventType.ASSIGNED)
        return user_id
    return None


def distribute_conversation(
    conversation_id: int, *, exclude_user_id: int | None = None, now: datetime | None = None
) -> int | None:
    """Place one conversation if it still waits (the task behind every per-conversation
    trigger). Safe to run twice, or at once with any number of other passes."""
    now = now or timezone.now()
    with transaction.atomic():
        conversation = (
            Conversation.objects.select_for_update(of=("self",))
            .filter(waiting_q(), pk=conversation_id)
            .first()
        )
        if conversation is None:
            return None
        return _place(conversation, now=now, exclude_user_id=exclude_user_id)


def distribute_queue(
    *, team_ids: Iterable[int] | None = None, now: datetime | None = None, limit: int = 10_000
) -> int:
    """Serve the queues (of these teams, or all) in order until nobody eligible has room.

    Each claim is its own short transaction; rows other workers hold are skipped, so several
    passes can run at once and share the work. A conversation that finds nobody rules out
    every later one that needs as much room (and the same skill, or any skill when it needed
    none): the pass stops early instead of scanning a long queue for nothing. Each claim is
    stamped with its own time (unless `now` is given).
    """
    teams = Team.objects.filter(auto_assign=True)
    if team_ids is not None:
        teams = teams.filter(pk__in=list(team_ids))
    team_list = list(teams.values_list("pk", flat=True))
    if not team_list:
        return 0
    placed = 0
    hopeless = Q(pk__in=[])
    for _attempt in range(limit):
        with transaction.atomic():
            conversation = (
                Conversation.objects.select_for_update(of=("self",), skip_locked=True)
                .filter(waiting_q(), team__in=team_list)
                .exclude(hopeless)
                .order_by(*QUEUE_ORDER)
                .first()
            )
            if conversation is None:
                break
            placed_to = _place(conversation, now=now or timezone.now())
        if placed_to is not None:
            placed += 1
            continue
        heavier = Q(team=conversation.team_id, load_weight__gte=conversation.load_weight)
        if conversation.required_skill_id is not None:
            heavier &= Q(required_skill=conversation.required_skill_id)
        hopeless |= heavier
    return placed


def distribute_to_operator(user_id: int, *, now: datetime | None = None) -> int:
    """An operator came online or freed room: serve the queues of their teams."""
    profile = OperatorProfile.objects.filter(user_id=user_id).first()
    if profile is None or profile.presence != Presence.ONLINE:
        return 0
    teams = list(profile.teams.values_list("pk", flat=True))
    return distribute_queue(team_ids=teams, now=now)


# --- the sweep: presence, reassignment, a pass over every queue ------------------------------


def reassign_unanswered(*, now: datetime | None = None) -> list[int]:
    """Conversations whose operator is away (or offline) and that have waited for an answer
    longer than their team allows go back to the queue, with an audit event and a notice to
    the operator who had them (whoever gets them next is told as for any assignment)."""
    now = now or timezone.now()
    moved: list[int] = []
    for team in Team.objects.filter(reassign_after_minutes__isnull=False):
        cutoff = now - timedelta(minutes=team.reassign_after_minutes or 0)
        candidates = list(
            Conversation.objects.filter(
                team=team,
                status=Status.OPEN,
                deleted_at__isnull=True,
                assignee__isnull=False,
                assignee__profile__presence__in=[Presence.AWAY, Presence.OFFLINE],
                waiting_since__lt=cutoff,
                assigned_at__lt=cutoff,
            ).values_list("pk", flat=True)[:1000]
        )
        for pk in candidates:
            if _reassign_one(pk, cutoff=cutoff, now=now):
                moved.append(pk)
    return moved


def _reassign_one(pk: int, *, cutoff: datetime, now: datetime) -> bool:
    with transaction.atomic():
        conversation = (
            Conversation.objects.select_for_update(of=("self",), skip_locked=True)
            .filter(
                pk=pk,
                status=Status.OPEN,
                deleted_at__isnull=True,
                assignee__profile__presence__in=[Presence.AWAY, Presence.OFFLINE],
                waiting_since__lt=cutoff,
                assigned_at__lt=cutoff,
            )
            .first()
        )
        if conversation is None:
            return False
        before = snapshot(conversation)
        conversation.assignee = None
        settle(conversation, before, now=now)
        conversation.save(update_fields=[*FIELDS, "updated_at"])
        ConversationEvent.objects.create(
            conversation=conversation,
            type=EventType.REASSIGNED,
            data={"from_user": before.assignee_id, "reason": "away"},
        )
        publish(
            {
                "type": "conversation.reassigned",
                "conversation_id": conversation.pk,
                "reason": "away",
            },
            groups=[user_group(before.assignee_id), ADMINS_GROUP],
            user_id=before.assignee_id,
        )
        publish_conversation_changed(
            conversation, change=EventType.REASSIGNED, previous_assignee_id=before.assignee_id
        )
    return True


def loads_reconcile() -> int:
    """Recompute every operator's load from their conversations; returns how many were off.

    The services keep loads exact; this guards against a bug or a hand edit in the database.
    """
    truth = dict(
        Conversation.objects.filter(
            assignee__isnull=False, status=Status.OPEN, deleted_at__isnull=True
        )
        .values("assignee")
        .annotate(total=Sum("load_weight"))
        .values_list("assignee", "total")
    )
    fixed = 0
    for profile in OperatorProfile.objects.only("pk", "user_id", "load", "busy_load", "capacity"):
        actual = truth.get(profile.user_id, 0) + profile.busy_load
        if profile.load != actual:
            with transaction.atomic():
                locked = OperatorProfile.objects.select_for_update().get(pk=profile.pk)
                recount = (
                    Conversation.objects.filter(
                        assignee_id=profile.user_id, status=Status.OPEN, deleted_at__isnull=True
                    ).aggregate(total=Sum("load_weight"))["total"]
                    or 0
                ) + locked.busy_load
                if locked.load != recount:
                    log.warning(
                        "operator %s load %s, actual %s: corrected",
                        profile.user_id,
                        locked.load,
                        recount,
                    )
                    OperatorProfile.objects.filter(pk=profile.pk).update(
                        load=recount, overload=Greatest(Value(0), recount - F("capacity"))
                    )
                    fixed += 1
    return fixed


def distribution_sweep(*, now: datetime | None = None) -> int:
    """The periodic safety net; returns how many conversations it placed."""
    from accounts.services import presence_expire

    now = now or timezone.now()
    presence_expire(now=now)
    reassign_unanswered(now=now)
    loads_reconcile()
    return distribute_queue(now=now)


def over_capacity_message(error: AtCapacity) -> str:
    profile = error.profile
    if profile is None:
        return _("This operator cannot take conversations.")
    return _(
        "%(name)s is at capacity (%(load)d of %(capacity)d); "
        "only a role allowed to exceed capacity can add more."
    ) % {"name": profile.user, "load": profile.load, "capacity": profile.capacity}
