"""Choosing an operator and placing waiting conversations: who is eligible and in what order,
the claim itself, and the passes over one conversation, the queues, or one operator's teams."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.db.models import F, FloatField, Q, QuerySet
from django.db.models.functions import Cast, NullIf
from django.utils import timezone

from accounts.models import OperatorProfile, Team
from chats.events import publish_conversation_changed
from chats.models import Conversation, ConversationEvent
from chats.selectors import QUEUE_ORDER, waiting_q
from chats.services.distribution.load import _charge, snapshot
from smartdesk.core import metrics
from smartdesk.core.oncommit import after_commit
from smartdesk.core.updates import model_update

Presence = OperatorProfile.Presence
EventType = ConversationEvent.Type


def eligible_operators(
    conversation: Conversation, *, exclude_user_id: int | None = None
) -> QuerySet[OperatorProfile]:
    """Operators who may take this conversation now, best first."""
    weight = conversation.load_weight
    operators = OperatorProfile.objects.filter(
        presence=Presence.ONLINE,
        user__is_active=True,
        role__archived_at__isnull=True,
        # Only roles that work on conversations and receive automatic assignments
        # (supervisors and admins take conversations by hand).
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
        model_update(conversation, assignee_id=user_id, assigned_at=now)
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
