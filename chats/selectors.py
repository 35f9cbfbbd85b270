"""Read queries for conversations. `visible_conversations(user)` is the one access gate.

Pages, the API, the WebSocket consumer, search and exports all start from it. A conversation
outside the user's scope does not exist for them: `conversation_for` answers 404.

The gate has two modes. What a user may *see* is `visible_conversations`; what they may *act
on* is `actionable_conversations`: the same scope, but only for a role that works on
conversations (`Capability.HANDLE_CONVERSATIONS`). Every write takes its object through the
write form: `conversation_for(..., for_write=True)`, `message_for(..., for_write=True)`,
`customer_for(..., for_write=True)`. Seen but not actionable answers 403; not seen, 404.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    F,
    Func,
    Max,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.access import Capability, has_capability, scope_of
from accounts.models import OperatorProfile, Role, Team, User
from chats.models import Conversation, ConversationEvent, Inbox, Message, ReplyTemplate
from customers.models import Customer
from customers.selectors import mask_value  # one masking rule for panel, card and API
from smartdesk.models import LiveEvent
from smartdesk.realtime import ADMINS_GROUP, team_group, user_group

Status = Conversation.Status


def user_team_ids(user: Any) -> QuerySet[Team]:
    return Team.objects.filter(members__user_id=user.pk).values("pk")


def visible_conversations(user: Any, *, include_deleted: bool = False) -> QuerySet[Conversation]:
    """Every conversation `user` may see, as one SQL filter.

    Scope `all`: every conversation; `teams`: those of the user's teams plus those assigned to
    them; `assigned`: only those assigned to them. Deleted conversations are left out unless
    `include_deleted` and the user may restore them.
    """
    scope = scope_of(user)
    qs = Conversation.objects.all()
    if scope is None:
        return qs.none()
    if scope == Role.Scope.TEAMS:
        qs = qs.filter(Q(team__in=user_team_ids(user)) | Q(assignee_id=user.pk))
    elif scope == Role.Scope.ASSIGNED:
        qs = qs.filter(assignee_id=user.pk)
    if not (include_deleted and has_capability(user, Capability.RESTORE_CONVERSATIONS)):
        qs = qs.filter(deleted_at__isnull=True)
    return qs


def can_act(user: Any) -> bool:
    """Whether the user's role works on conversations at all (the write side of the gate)."""
    return has_capability(user, Capability.HANDLE_CONVERSATIONS)


def actionable_conversations(user: Any, *, include_deleted: bool = False) -> QuerySet[Conversation]:
    """Every conversation `user` may act on (reply, assign, snooze, close, delete, goodwill…):
    those they see, if their role works on conversations; none otherwise. A role that sees
    everything only to report and export acts on nothing."""
    if not can_act(user):
        return Conversation.objects.none()
    return visible_conversations(user, include_deleted=include_deleted)


def _not_yours() -> PermissionDenied:
    return PermissionDenied(_("Your role may look at this conversation but not act on it."))


def conversation_for(
    user: Any, pk: Any, *, include_deleted: bool = False, for_write: bool = False
) -> Conversation:
    """The conversation `pk` if `user` may see it; Http404 otherwise (missing or not visible).

    `for_write`: only if they may act on it; one they see but may not act on is a
    PermissionDenied (403), so a read-only role learns nothing it could not already read.
    """
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise Http404(_("No such conversation.")) from None
    gate = actionable_conversations if for_write else visible_conversations
    found = (
        gate(user, include_deleted=include_deleted)
        .select_related("customer", "inbox", "team", "assignee")
        .filter(pk=pk)
        .first()
    )
    if found is None:
        if (
            for_write
            and visible_conversations(user, include_deleted=include_deleted).filter(pk=pk).exists()
        ):
            raise _not_yours()
        raise Http404(_("No such conversation."))
    return found


def with_effective_status(qs: QuerySet[Conversation], now: datetime | None = None) -> QuerySet:
    """Annotate `effective_status`: a snooze whose time has passed reads as open at once,
    before the sweep materialises it."""
    now = now or timezone.now()
    return qs.annotate(
        effective_status=Case(
            When(status=Status.SNOOZED, snoozed_until__lte=now, then=Value(Status.OPEN)),
            default=F("status"),
            output_field=CharField(),
        )
    )


def active_q(now: datetime) -> Q:
    """Open, or snoozed with its time passed: what the active lists show."""
    return Q(status=Status.OPEN) | Q(status=Status.SNOOZED, snoozed_until__lte=now)


def snoozed_q(now: datetime) -> Q:
    """Snoozed and not yet due (until a later time, or until the customer replies)."""
    return Q(status=Status.SNOOZED) & (Q(snoozed_until__isnull=True) | Q(snoozed_until__gt=now))


def is_due(conversation: Conversation, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    return (
        conversation.status == Status.SNOOZED
        and conversation.snoozed_until is not None
        and conversation.snoozed_until <= now
    )


def effective_status(conversation: Conversation, now: datetime | None = None) -> str:
    return Status.OPEN if is_due(conversation, now) else conversation.status


@dataclass(frozen=True)
class InboxView:
    slug: str
    label: Any


INBOX_VIEWS = [
    InboxView("mine", _("Mine")),
    InboxView("queue", _("Team queue")),
    InboxView("team", _("Team")),
    InboxView("all", _("All")),
    InboxView("snoozed", _("Snoozed")),
    InboxView("closed", _("Closed")),
    InboxView("deleted", _("Deleted")),
]


def inbox_views(user: Any) -> list[InboxView]:
    """The list views this user has: `all` only for scope all, `deleted` for restorers."""
    scope = scope_of(user)
    views = []
    for view in INBOX_VIEWS:
        if view.slug == "all" and scope != Role.Scope.ALL:
            continue
        if view.slug in ("queue", "team") and scope == Role.Scope.ASSIGNED:
            continue
        if view.slug == "deleted" and not has_capability(user, Capability.RESTORE_CONVERSATIONS):
            continue
        views.append(view)
    return views


def inbox(
    user: Any, *, view: str = "mine", now: datetime | None = None, team_id: int | None = None
) -> QuerySet[Conversation]:
    """One list view of the operator inbox, in working order: most urgent, then longest waiting.

    Raises Http404 for a view the user does not have.
    """
    if view not in {v.slug for v in inbox_views(user)}:
        raise Http404(_("No such view."))
    now = now or timezone.now()
    qs = with_effective_status(
        visible_conversations(user, include_deleted=view == "deleted"), now
    ).select_related("customer", "inbox", "assignee", "team")
    # Plain predicates, not the annotation, so PostgreSQL can use the partial list index.
    active = active_q(now)
    if view == "mine":
        qs = qs.filter(active, assignee_id=user.pk)
    elif view == "queue":
        qs = qs.filter(active, assignee__isnull=True)
        if scope_of(user) != Role.Scope.ALL:
            qs = qs.filter(team__in=user_team_ids(user))
    elif view == "team":
        qs = qs.filter(active, team__in=user_team_ids(user))
    elif view == "all":
        qs = qs.filter(active)
    elif view == "snoozed":
        qs = qs.filter(snoozed_q(now))
    elif view == "closed":
        qs = qs.filter(status=Status.CLOSED)
    elif view == "deleted":
        qs = qs.filter(deleted_at__isnull=False)
    if team_id is not None:
        qs = qs.filter(team_id=team_id)
    if view in ("closed", "deleted"):
        return qs.order_by(F("closed_at").desc(nulls_last=True), "-pk")
    return qs.order_by(
        "-priority",
        F("waiting_since").asc(nulls_last=True),
        F("last_message_at").desc(nulls_last=True),
        "pk",
    )


def thread_messages_queryset(user: Any, conversation: Conversation) -> QuerySet[Message]:
    """The messages of a conversation the caller already got through the gate; deleted ones
    only for roles that may see them."""
    qs = conversation.messages.select_related("author", "deleted_by")
    if not has_capability(user, Capability.VIEW_DELETED_MESSAGES):
        qs = qs.filter(deleted_at__isnull=True)
    return qs


def thread_messages(user: Any, conversation: Conversation, *, limit: int = 200) -> list[Message]:
    """The newest `limit` messages of the thread, oldest first."""
    qs = thread_messages_queryset(user, conversation)
    newest = list(qs.order_by("-created_at", "-pk")[:limit])
    newest.reverse()
    return newest


def message_for(user: Any, pk: Any, *, for_write: bool = False) -> Message:
    """A message of a conversation the user may see, by the thread's rule; Http404 otherwise.

    `for_write`: of a conversation they may act on (403 for one they only see)."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise Http404(_("No such message.")) from None
    found = (
        Message.objects.select_related("conversation")
        .filter(pk=pk, conversation__in=visible_conversations(user))
        .first()
    )
    if found is None or (
        found.deleted_at is not None and not has_capability(user, Capability.VIEW_DELETED_MESSAGES)
    ):
        raise Http404(_("No such message."))
    if for_write and not actionable_conversations(user).filter(pk=found.conversation_id).exists():
        raise _not_yours()
    return found


def inbox_for_key(key: str, *, kind: str | None = None) -> Inbox:
    """The inbox a channel names by its public key; Http404 for an unknown key (or kind)."""
    qs = Inbox.objects.filter(key=key)
    if kind is not None:
        qs = qs.filter(kind=kind)
    found = qs.first()
    if found is None:
        raise Http404(_("No such inbox."))
    return found


def conversation_audit_events(
    conversation: Conversation,
    *,
    types: Iterable[str],
    since: datetime | None = None,
    limit: int = 200,
) -> list[ConversationEvent]:
    """The newest audit events of those `types` (at or after `since`), oldest first, for a
    conversation the caller already got through the gate. One query."""
    events = conversation.events.select_related("actor").filter(type__in=list(types))
    if since is not None:
        events = events.filter(at__gte=since)
    newest = list(events.order_by("-at", "-id")[:limit])
    newest.reverse()
    return newest


def names_mentioned(
    events: Iterable[ConversationEvent],
) -> tuple[dict[int, str], dict[int, str]]:
    """Names of the operators and teams the events' data mention: at most one query each."""
    user_ids: set[int] = set()
    team_ids: set[int] = set()
    for event in events:
        for key, ids in (("from_user", user_ids), ("to_user", user_ids)):
            if isinstance(event.data.get(key), int):
                ids.add(event.data[key])
        for key in ("from_team", "to_team"):
            if isinstance(event.data.get(key), int):
                team_ids.add(event.data[key])
    users = {u.pk: str(u) for u in User.objects.filter(pk__in=user_ids)} if user_ids else {}
    teams = dict(Team.objects.filter(pk__in=team_ids).values_list("pk", "name")) if team_ids else {}
    return users, teams


@dataclass(frozen=True)
class ShownIdentity:
    kind: str
    label: str
    value: str
    verified: bool
    masked: bool


def customer_identities(user: Any, customer: Any) -> list[ShownIdentity]:
    """The customer's identities as this user may see them: in full only with the personal
    data capability, masked otherwise. Pages and the API both show them through this."""
    show = has_capability(user, Capability.VIEW_CUSTOMER_PII)
    return [
        ShownIdentity(
            kind=identity.kind,
            label=identity.get_kind_display(),
            value=identity.value if show else mask_value(identity.value),
            verified=identity.verified,
            masked=not show,
        )
        for identity in customer.identities.order_by("kind", "value")
    ]


def customer_conversations(
    user: Any, conversation: Conversation, *, limit: int = 10
) -> QuerySet[Conversation]:
    """The customer's other conversations, across channels, that the user may see."""
    return (
        visible_conversations(user)
        .filter(customer_id=conversation.customer_id)
        .exclude(pk=conversation.pk)
        .select_related("inbox")
        .order_by("-created_at")[:limit]
    )


def templates_for(user: Any, conversation: Conversation | None = None) -> QuerySet[ReplyTemplate]:
    """Active templates: global ones and those of the user's teams (and the conversation's)."""
    teams = Q(team__in=user_team_ids(user))
    if conversation is not None and conversation.team_id:
        teams |= Q(team_id=conversation.team_id)
    return ReplyTemplate.objects.filter(Q(team__isnull=True) | teams, is_active=True).order_by(
        "shortcut", "language"
    )


_WORD = re.compile(r"\w+", re.UNICODE)


def _prefix_tsquery(text: str) -> str:
    """`свет кунжут` -> `свет:* & кунжут:*`: every word, as a prefix, all required."""
    return " & ".join(f"{w}:*" for w in _WORD.findall(text.lower())[:8])


class _TextMatch(Func):
    """`to_tsvector('simple', body) @@ to_tsquery('simple', query)`, as the index spells it."""

    output_field = BooleanField()

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        body_sql, body_params = compiler.compile(self.source_expressions[0])
        query_sql, query_params = compiler.compile(self.source_expressions[1])
        return (
            f"to_tsvector('simple'::regconfig, {body_sql})"
            f" @@ to_tsquery('simple'::regconfig, {query_sql})",
            [*body_params, *query_params],
        )


def search_conversations(user: Any, query: str) -> QuerySet[Conversation]:
    """Conversations within the gate whose customer name, identity (phone, email, handle) or
    message text matches `query`. Newest activity first."""
    query = query.strip()
    visible = visible_conversations(user)
    if not query:
        return visible.none()
    words = _WORD.findall(query)
    name = Q()
    for word in words[:4]:
        name &= Q(customer__first_name__icontains=word) | Q(customer__last_name__icontains=word)
    digits = re.sub(r"\D", "", query)
    identity = Q(customer__identities__value__icontains=query)
    if len(digits) >= 5:
        identity |= Q(customer__identities__value__contains=digits)
    # Deleted messages are never searchable, whoever asks.
    by_text = Message.objects.filter(deleted_at__isnull=True)
    if connection.vendor == "postgresql" and words:
        # Matches the GIN index of migration chats.0002.
        by_text = by_text.filter(_TextMatch(F("body"), Value(_prefix_tsquery(query))))
    else:
        by_text = by_text.filter(body__icontains=query)
    matches = visible.filter(
        Q(pk__in=by_text.values("conversation_id")) | (name if words else Q(pk__in=[])) | identity
    )
    return (
        visible.filter(pk__in=matches.values("pk"))
        .select_related("customer", "inbox", "assignee", "team")
        .order_by(F("last_message_at").desc(nulls_last=True), "-pk")
    )


# --- live events -------------------------------------------------------------------------


def live_groups_for(user: Any) -> set[str]:
    """The channel-layer groups whose events this user may hear, by their scope."""
    scope = scope_of(user)
    if scope is None:
        return set()
    groups = {user_group(user.pk)}
    if scope == Role.Scope.ALL:
        groups.add(ADMINS_GROUP)
    elif scope == Role.Scope.TEAMS:
        groups |= {
            team_group(pk)
            for pk in Team.objects.filter(members__user_id=user.pk).values_list("pk", flat=True)
        }
    return groups


def live_events_since(
    user: Any,
    *,
    after: int,
    until: int | None = None,
    exclude: set[int] | frozenset[int] = frozenset(),
    limit: int = 500,
) -> list[dict[str, Any]]:
    """Events with a seq above `after` (and at most `until`) that the user may see now, in
    commit order, as sent, leaving out the seqs in `exclude`.

    Conversation events are filtered through the gate as it stands now, so a reconnect never
    replays what the user may no longer see.
    """
    rows = LiveEvent.objects.filter(_replayable(user), seq__gt=after)
    if until is not None:
        rows = rows.filter(seq__lte=until)
    # The excluded seqs are those above `after` the client already holds: a short list.
    rows = (
        rows.exclude(seq__in=sorted(exclude)).order_by("seq").values_list("seq", "payload")[:limit]
    )
    return [{**payload, "id": seq} for seq, payload in rows]


def _replayable(user: Any) -> Q:
    """The live events a user may be replayed: their own, those of conversations they see
    now, and for scope `all` what is sent to the admins' group: the floor's presence changes
    and the contact-spike alerts (analytics, issue 14)."""
    visible = Q(user_id=user.pk) | Q(
        conversation_id__in=visible_conversations(user, include_deleted=True).values("pk")
    )
    if scope_of(user) == Role.Scope.ALL:
        visible |= Q(type__in=("presence.changed", "anomaly.alert"))
    return visible


def live_event_ids(user: Any, *, after: int, until: int, limit: int | None = None) -> list[int]:
    """The seqs in (after, until] of events the user may see now, in commit order (the first
    `limit`): what a socket compares with what it forwarded to find the ones it missed."""
    visible = _replayable(user)
    rows = (
        LiveEvent.objects.filter(visible, seq__gt=after, seq__lte=until)
        .order_by("seq")
        .values_list("seq", flat=True)
    )
    return list(rows if limit is None else rows[:limit])


def live_events_by_seq(seqs: list[int]) -> list[dict[str, Any]]:
    """The events with these seqs, as sent, in commit order. Callers pass seqs the gate gave
    them (`live_event_ids`)."""
    rows = LiveEvent.objects.filter(seq__in=seqs).order_by("seq").values_list("seq", "payload")
    return [{**payload, "id": seq} for seq, payload in rows]


def live_event_latest() -> int:
    """The newest committed event id (0 before any): a page rendered now shows everything
    up to it, so its socket resumes after it."""
    return LiveEvent.objects.aggregate(latest=Max("seq"))["latest"] or 0


def live_event_horizon() -> int | None:
    """The oldest seq still kept; a client behind it must reload instead of replaying."""
    return (
        LiveEvent.objects.filter(seq__isnull=False)
        .order_by("seq")
        .values_list("seq", flat=True)
        .first()
    )


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
    # receives automatic assignments, issue 13); the others take them by hand.
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


queue_position = queue_status  # the name the channels (widget, app) use


def visible_customers(user: Any) -> QuerySet[Customer]:
    """Customers the user may look at: any for a role that sees all conversations, otherwise
    those with a conversation the user may see."""
    customers = Customer.objects.all()
    if scope_of(user) is None:
        return customers.none()
    if scope_of(user) != Role.Scope.ALL:
        customers = customers.filter(
            pk__in=visible_conversations(user, include_deleted=True).values("customer_id")
        )
    return customers


def actionable_customers(user: Any) -> QuerySet[Customer]:
    """Customers whose own data (loyalty, goodwill, the card) the user may change: any with
    `Capability.ACT_ON_ALL_CUSTOMERS`; otherwise those of a (not deleted) conversation the
    user may act on. Scope `all` alone is not enough: seeing every card is not changing it."""
    if scope_of(user) is None:
        return Customer.objects.none()
    if has_capability(user, Capability.ACT_ON_ALL_CUSTOMERS):
        return Customer.objects.all()
    return Customer.objects.filter(pk__in=actionable_conversations(user).values("customer_id"))


def customer_for(user: Any, pk: Any, *, for_write: bool = False) -> Customer:
    """A customer the user may look at (`visible_customers`); 404 for the rest, like
    `conversation_for`. `for_write`: one they may change (`actionable_customers`); a customer
    they see but may not change is a PermissionDenied (403)."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise Http404(_("No such customer.")) from None
    gate = actionable_customers if for_write else visible_customers
    customer = gate(user).filter(pk=pk).first()
    if customer is None:
        if for_write and visible_customers(user).filter(pk=pk).exists():
            raise PermissionDenied(_("Your role may look at this customer but not change them."))
        raise Http404(_("No such customer."))
    return customer
