"""The one access gate: what a user may see (`visible_conversations`) and act on
(`actionable_conversations`), and the lookups that go through it: `conversation_for`,
`message_for`, `customer_for` (404 for what is not seen, 403 for what is seen but not
actionable). Also the inbox a channel names by its key (`inbox_for_key`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext_lazy as _

from accounts.access import Capability, has_capability, scope_of
from accounts.models import Role, Team
from chats.models import Conversation, Inbox, Message
from customers.models import Customer


def user_team_ids(user: Any) -> QuerySet[Team]:
    return Team.objects.filter(members__user_id=user.pk).values("pk")


@dataclass(frozen=True)
class Facts:
    """What the gate decides on for one conversation, as a query read it."""

    team_id: int | None
    assignee_id: int | None
    deleted: bool


_TEAMS_ATTR = "_smartdesk_team_ids"


def team_ids_of(user: Any) -> frozenset[int]:
    """The user's teams, read once per user object: a socket takes a fresh user object
    whenever access changes (`access.changed`) and at each reconcile, teams included."""
    if not hasattr(user, _TEAMS_ATTR):
        ids = frozenset(user_team_ids(user).values_list("pk", flat=True))
        setattr(user, _TEAMS_ATTR, ids)
    return getattr(user, _TEAMS_ATTR)


def may_see(user: Any, facts: Facts) -> bool:
    """`visible_conversations(user, include_deleted=True)` for one conversation whose facts
    were already read: the same rule in memory, for the live path, where a query per event
    and socket is what must not happen (chats/live_render.py, chats/live_window.py). The
    user's teams are those of the user object (`team_ids_of`). Tests hold the two together
    (tests/chats/test_live_render.py, tests/chats/test_live_window.py)."""
    scope = scope_of(user)
    if scope is None:
        return False
    if facts.deleted and not has_capability(user, Capability.RESTORE_CONVERSATIONS):
        return False
    if scope == Role.Scope.ALL:
        return True
    if facts.assignee_id is not None and facts.assignee_id == user.pk:
        return True
    return scope == Role.Scope.TEAMS and facts.team_id in team_ids_of(user)


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
