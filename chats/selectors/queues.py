"""The team queues (distribution: docs/distribution.md): what is waiting and in which order,
the queue view of each team, and where a waiting conversation stands."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import F, Q, Sum
from django.utils import timezone

from accounts.access import scope_of
from accounts.models import OperatorProfile, Role, Team
from chats.models import Conversation
from chats.selectors.gate import visible_conversations
from chats.selectors.status import Status

# --- the queue view (distribution) ------------------------------------------------------------


@dataclass(frozen=True)
class QueuedRow:
    conversation: Conversation
    position: int
    waiting_seconds: int


@dataclass(frozen=True)
class OperatorRow:
    user_id: int
    name: str
    presence: str
    presence_label: str
    load: int
    capacity: int
    last_seen_at: datetime | None
    # Whether distribution gives them conversations (their role works on conversations and
    # receives automatic assignments); the others take them by hand.
    receives: bool = True

    @property
    def full(self) -> bool:
        return self.load >= self.capacity


@dataclass(frozen=True)
class TeamQueue:
    team: Team
    waiting: list[QueuedRow]
    waiting_total: int
    operators: list[OperatorRow]

    @property
    def online(self) -> int:
        return sum(1 for o in self.operators if o.presence == OperatorProfile.Presence.ONLINE)

    @property
    def receiving(self) -> int:
        """Online operators distribution gives conversations to."""
        return sum(
            1
            for o in self.operators
            if o.receives and o.presence == OperatorProfile.Presence.ONLINE
        )


def queue_overview(
    user: Any, *, now: datetime | None = None, per_team: int = 50
) -> list[TeamQueue]:
    """Each team the user may see: its queue in serving order (through the gate) and its
    operators with presence and load. Three queries a team."""
    now = now or timezone.now()
    scope = scope_of(user)
    teams = Team.objects.all()
    if scope != Role.Scope.ALL:
        teams = teams.filter(members__user_id=user.pk)
    result = []
    for team in teams.order_by("name"):
        waiting = (
            visible_conversations(user)
            .filter(waiting_q(), team=team)
            .select_related("customer", "inbox")
            .order_by(*QUEUE_ORDER)
        )
        rows = [
            QueuedRow(
                conversation=c,
                position=n,
                waiting_seconds=int((now - (c.queued_at or c.created_at)).total_seconds()),
            )
            for n, c in enumerate(waiting[:per_team], start=1)
        ]
        operators = [
            OperatorRow(
                user_id=p.user_id,
                name=str(p.user),
                presence=p.presence,
                presence_label=p.get_presence_display(),
                load=p.load,
                capacity=p.capacity,
                last_seen_at=p.last_seen_at,
                receives=p.role.can_handle_conversations and p.role.receives_auto_assignment,
            )
            for p in OperatorProfile.objects.filter(teams=team, user__is_active=True)
            .select_related("user", "role")
            .order_by("presence", "user__username")
        ]
        result.append(
            TeamQueue(
                team=team,
                waiting=rows,
                waiting_total=waiting.count() if len(rows) == per_team else len(rows),
                operators=operators,
            )
        )
    return result


# --- the team queues (distribution: docs/distribution.md) -------------------------------------


def waiting_q() -> Q:
    """Conversations waiting in a team queue for an operator."""
    return Q(status=Status.OPEN, assignee__isnull=True, deleted_at__isnull=True, team__isnull=False)


# Served by priority (urgent first), then longest queued. The indexes `conv_queue_order`
# (per team) and `conv_queue_all` (every team) hold exactly this order, so taking the head of
# a queue reads one index entry instead of sorting the queue. Waiting rows always have a
# `queued_at` (set whenever a conversation enters a queue).
QUEUE_ORDER = (F("priority").desc(), "queued_at", "pk")


def is_waiting(conversation: Conversation) -> bool:
    return (
        conversation.status == Status.OPEN
        and conversation.assignee_id is None
        and conversation.deleted_at is None
        and conversation.team_id is not None
    )


# --- where a waiting conversation stands ----------------------------------------------------


@dataclass(frozen=True)
class QueueStatus:
    position: int  # 1 = next to be served
    estimated_wait_seconds: int | None  # None: nobody online in the team to estimate from


def _team_throughput(team_id: int, now: datetime) -> tuple[float, int]:
    """(average handle seconds over the last day's closed conversations, online capacity)."""
    key = f"distribution:throughput:{team_id}"
    cached = cache.get(key)
    if cached is None:
        recent = Conversation.objects.filter(
            team_id=team_id,
            closed_at__gte=now - timedelta(days=1),
            assigned_at__isnull=False,
        ).values_list("assigned_at", "closed_at")[:500]
        spans = [(closed - assigned).total_seconds() for assigned, closed in recent if closed]
        handle = sum(spans) / len(spans) if spans else settings.DISTRIBUTION_DEFAULT_HANDLE_SECONDS
        cached = max(handle, 30.0)
        cache.set(key, cached, 60)
    online = (
        OperatorProfile.objects.filter(
            teams=team_id,
            presence=OperatorProfile.Presence.ONLINE,
            user__is_active=True,
            role__archived_at__isnull=True,
        ).aggregate(slots=Sum("capacity"))["slots"]
        or 0
    )
    return cached, online


def queue_status(conversation: Conversation, *, now: datetime | None = None) -> QueueStatus | None:
    """Where a waiting conversation stands in its team's queue, and roughly how long until an
    operator takes it: the conversations ahead of it, served at the rate the team's online
    capacity turns over (capacity / average handle time of the last day). None when it is not
    waiting. Computed on demand, so it is always current."""
    if not is_waiting(conversation):
        return None
    now = now or timezone.now()
    queued_at = conversation.queued_at or conversation.created_at
    ahead = (
        Conversation.objects.filter(waiting_q(), team_id=conversation.team_id)
        .filter(
            Q(priority__gt=conversation.priority)
            | Q(priority=conversation.priority, queued_at__lt=queued_at)
            | Q(priority=conversation.priority, queued_at=queued_at, pk__lt=conversation.pk)
        )
        .count()
    )
    handle_seconds, slots = _team_throughput(conversation.team_id, now)
    if slots == 0:
        return QueueStatus(position=ahead + 1, estimated_wait_seconds=None)
    return QueueStatus(
        position=ahead + 1, estimated_wait_seconds=int((ahead + 1) * handle_seconds / slots)
    )
