"""The list views of the operator inbox (`inbox_views`, `inbox`), in working order."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import F, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.access import Capability, has_capability, scope_of
from accounts.models import Role
from chats.models import Conversation
from chats.selectors.gate import user_team_ids, visible_conversations
from chats.selectors.status import Status, active_q, snoozed_q, with_effective_status

# What a list row (the inbox page's, the API's) reads of each related table. A page selects
# these, not every column of five tables (the inbox page also only the conversation's columns
# a row shows): half of the rows' load time was parsing timestamps nobody shows.
ROW_RELATED_COLUMNS: dict[str, tuple[str, ...] | None] = {
    "customer": ("first_name", "last_name"),
    "inbox": ("name", "kind"),
    "team": ("name",),
    "assignee": ("username", "first_name", "last_name"),
}


def with_row_columns(
    qs: QuerySet[Conversation],
    related: Mapping[str, tuple[str, ...] | None] = ROW_RELATED_COLUMNS,
    own: tuple[str, ...] | None = None,
) -> QuerySet[Conversation]:
    """`qs` with the relations of `related` selected, each with the columns it names (None:
    all of them), and the conversation's columns `own` (None: all of them; the relations'
    keys are always read). Any other column is deferred: reading one costs a query per row,
    which the list's query-count tests would show."""
    names = [
        f.name
        for f in Conversation._meta.concrete_fields
        if own is None or f.name in own or f.name in related
    ]
    for relation, columns in related.items():
        if columns is None:
            model = Conversation._meta.get_field(relation).related_model
            columns = tuple(f.name for f in model._meta.concrete_fields)
        names += [f"{relation}__{column}" for column in columns]
    return qs.select_related(*related).only(*names)


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
