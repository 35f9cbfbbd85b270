"""The list pane: which list the operator looks at (`ListState`), its rows with the
customer's best contact (masked for roles that may not see it), and one page of it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.db import connections, router
from django.db.models import Case, IntegerField, OuterRef, QuerySet, Subquery, Value, When
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from accounts.access import Capability, has_capability, scope_of
from accounts.models import Role
from chats.forms import ListParamsForm
from chats.models import Conversation
from chats.selectors import (
    ROW_RELATED_COLUMNS,
    inbox,
    inbox_views,
    live_event_watermark,
    search_conversations,
    user_team_ids,
    visible_conversations,
    with_effective_status,
    with_row_columns,
)
from chats.views.presenters.common import PAGE_SIZE
from chats.views.presenters.rows import row_fields, row_html, row_of
from customers.models import Identity
from customers.selectors import mask_value
from smartdesk.core.statements import Reusable, Reusables, slot_datetime, slot_int

# --- the list pane ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ListState:
    """Which list the operator looks at; carried in every link so the list stays put."""

    view: str = "mine"
    q: str = ""
    page: int = 1

    def query(self, **changes: Any) -> str:
        values = {"view": self.view, "q": self.q, "page": self.page, **changes}
        kept = {
            key: value
            for key, value in values.items()
            if value and not (key == "page" and value == 1)
        }
        return urlencode(kept)

    def suffix(self, **changes: Any) -> str:
        query = self.query(**changes)
        return f"?{query}" if query else ""


def list_state(request: HttpRequest) -> ListState:
    return ListState(**ListParamsForm(request.GET).params())


# The contact a row shows for its customer, best first (an app id tells an operator nothing).
CONTACT_KINDS = (Identity.Kind.PHONE, Identity.Kind.EMAIL, Identity.Kind.TELEGRAM)


def with_contact(qs: QuerySet[Conversation]) -> QuerySet[Conversation]:
    """Annotate `contact`: the customer's best contact, in the same query as the rows."""
    rank = Case(
        *(When(kind=kind, then=Value(n)) for n, kind in enumerate(CONTACT_KINDS)),
        output_field=IntegerField(),
    )
    best = (
        Identity.objects.filter(customer_id=OuterRef("customer_id"), kind__in=CONTACT_KINDS)
        .order_by(rank, "value")
        .values("value")[:1]
    )
    return qs.annotate(contact=Subquery(best))


def show_contacts(rows: Iterable[Conversation], user: Any) -> None:
    """Set each row's `contact_shown`: in full only for roles that may see personal data,
    masked by the one masking rule otherwise (as on the customer card)."""
    show = has_capability(user, Capability.VIEW_CUSTOMER_PII)
    for row in rows:
        value = getattr(row, "contact", None) or ""
        row.contact_shown = value if show or not value else mask_value(value)  # type: ignore[attr-defined]


# Relations a row shows, read in the row's own query, with the columns it reads of each (None:
# all of them).
_row_related: dict[str, tuple[str, ...] | None] = dict(ROW_RELATED_COLUMNS)


def register_row_related(name: str, columns: tuple[str, ...] | None = None) -> None:
    """Read one more relation of the conversation with the row (`columns` of it; None: all):
    an app above chats that shows something in the row registers it from its
    AppConfig.ready() (analytics: the classifier's chip), so a row stays one query however
    many parts it grows. Twice keeps the last columns."""
    _row_related[name] = columns


# The row's query, compiled once per (user, what shapes their gate, database) and run with the
# conversation and the time put in (smartdesk/core/statements.py): a live process reads it
# on every event, and building and compiling it cost more than the rest of the read.
_row_statements: Reusables[Conversation] = Reusables(size=1024)


def list_row(user: Any, pk: int, *, watermark: bool = False) -> Conversation | None:
    """One conversation as a list row shows it, through the gate (deleted ones for the roles
    that may restore them); None when the user may not see it. One query. With `watermark`,
    the row also carries `live_watermark`: the newest event id committed when it was read
    (`live_event_watermark`)."""
    using = router.db_for_read(Conversation)
    if connections[using].vendor == "postgresql":
        key = (
            user.pk,
            scope_of(user),
            has_capability(user, Capability.RESTORE_CONVERSATIONS),
            watermark,
            tuple(_row_related),
            using,
        )
        statement = _row_statements.get(key, lambda: _row_statement(user, watermark=watermark))
        found = next(iter(statement.run(pk=int(pk), now=timezone.now())), None)
    else:  # the embedded SQLite: built and compiled each time
        found = next(iter(_row_queryset(user, int(pk), timezone.now(), watermark=watermark)), None)
    if found is not None:
        show_contacts([found], user)
    return found


def _row_queryset(user: Any, pk: int, now: Any, *, watermark: bool) -> QuerySet[Conversation]:
    qs = with_contact(
        with_effective_status(visible_conversations(user, include_deleted=True), now=now)
    )
    if watermark:
        qs = qs.annotate(live_watermark=live_event_watermark())
    return qs.select_related(*_row_related).filter(pk=pk)[:1]


def _row_statement(user: Any, *, watermark: bool) -> Reusable[Conversation]:
    pk, now = slot_int(), slot_datetime()
    return Reusable(_row_queryset(user, pk, now, watermark=watermark), {"pk": pk, "now": now})


def _list_filter(user: Any, state: ListState) -> dict[str, Any]:
    """What decides whether a conversation belongs in the list shown: the browser places a
    row pushed by the socket with it (static/js/operator.js). The teams are read only for the
    views that filter on them."""
    scope = scope_of(user)
    team_ids: list[int] = []
    if not state.q and (
        state.view == "team" or (state.view == "queue" and scope != Role.Scope.ALL)
    ):
        team_ids = list(user_team_ids(user).values_list("pk", flat=True))
    return {"user_id": user.pk, "scope": scope or "", "team_ids": team_ids}


# One page of a list view, compiled once per (user, what shapes their gate, view, page): the
# list is read on every page load and list refresh, and Django's building and compiling of
# its query cost more CPU than PostgreSQL's answer. A search is built each time.
_page_statements: Reusables[Conversation] = Reusables(size=1024)


def _page(user: Any, state: ListState, offset: int) -> list[Conversation]:
    """Up to PAGE_SIZE + 1 rows from `offset` (the one more tells whether a next page exists).
    Raises Http404 for a view the user does not have."""
    window = slice(offset, offset + PAGE_SIZE + 1)
    if state.q:
        found = with_effective_status(search_conversations(user, state.q))
        return list(with_contact(with_row_columns(found, _row_related, row_fields()))[window])
    using = router.db_for_read(Conversation)
    if connections[using].vendor != "postgresql":  # the embedded SQLite: built each time
        return list(_page_queryset(user, state.view, timezone.now())[window])
    key = (
        user.pk,
        scope_of(user),
        has_capability(user, Capability.RESTORE_CONVERSATIONS),
        state.view,
        offset,
        tuple(_row_related.items()),
        row_fields(),
        using,
    )

    def build() -> Reusable[Conversation]:
        now = slot_datetime()
        return Reusable(_page_queryset(user, state.view, now)[window], {"now": now})

    return _page_statements.get(key, build).run(now=timezone.now())


def _page_queryset(user: Any, view: str, now: Any) -> QuerySet[Conversation]:
    return with_contact(
        with_row_columns(inbox(user, view=view, now=now), _row_related, row_fields())
    )


def list_context(request: HttpRequest, state: ListState, current_id: int | None) -> dict:
    """One page of the list: a single query whatever the page size (rows carry their
    customer, inbox, assignee, team and contact)."""
    user = request.user
    views = inbox_views(user)
    offset = (state.page - 1) * PAGE_SIZE
    rows = _page(user, state, offset)
    show_contacts(rows, user)
    has_more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    now = timezone.now()
    list_query = state.suffix()
    row_items = [
        row_html(row_of(c, now=now), current=c.pk == current_id, list_query=list_query)
        for c in rows
    ]
    current_view = next((v for v in views if v.slug == state.view), None)
    # The list sits on the inbox page or beside an open conversation; its links stay there.
    page_path = reverse("conversation", args=[current_id]) if current_id else reverse("inbox")
    fragment_path = reverse("inbox-list")
    pages: dict[str, str | None] = {
        "next_url": None,
        "next_fragment_url": None,
        "previous_url": None,
        "previous_fragment_url": None,
    }
    if has_more:
        pages["next_url"] = page_path + state.suffix(page=state.page + 1)
        pages["next_fragment_url"] = fragment_path + state.suffix(
            page=state.page + 1, current=current_id
        )
    if state.page > 1:
        pages["previous_url"] = page_path + state.suffix(page=state.page - 1)
        pages["previous_fragment_url"] = fragment_path + state.suffix(
            page=state.page - 1, current=current_id
        )
    return {
        "views": views,
        "current_view": current_view,
        "state": state,
        "page_path": page_path,
        "list_query": list_query,
        "rows": rows,
        "row_items": row_items,
        "current_id": current_id,
        "list_refresh_url": fragment_path + state.suffix(current=current_id),
        "list_filter": _list_filter(user, state),
        **pages,
    }
