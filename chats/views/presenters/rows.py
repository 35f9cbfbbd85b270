"""The list row as it is shown: its values (`Row`) and its HTML (`row_html`).

The row template (templates/chats/_row.html) reads nothing but a `Row`, the `current` flag
and the list's query string, so its output is a function of those, the language and the
template itself. `row_html` keeps that output per process in an LRU keyed on all of them:
a page of 50 rows costs 50 small Python reads, and the Django template renders only rows
that changed (or whose "waiting" time moved to the next minute). Every operator of a team
sees the same rows, so the inbox page, the list fragment and the live row share the entries.
The `Row` is kept the same way: `row_of` reads what the row shows into a `_Read` (with the
whole minutes waited) and formats it once per read, language and zone.

What the template may show is decided here, not in the template: a value it reads that is
not a field of `Row` would be rendered once and then served stale. An app above chats that
shows something in the row (analytics: the classifier's chip) registers a *part*: a function
from the conversation, read with its `register_row_related` relations and the columns it
names, to a hashable value.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.template import Context
from django.template.loader import get_template
from django.urls import get_script_prefix
from django.utils import timezone, translation
from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import timesince

from chats.models import Conversation, Inbox
from chats.selectors import effective_status
from chats.templatetags.local_time import local_time

ROW_TEMPLATE = "chats/_row.html"
# Rendered rows kept per process: a floor's open conversations several times over.
CACHE_SIZE = 4096

_parts: dict[str, Callable[[Conversation], Hashable]] = {}


_part_fields: set[str] = set()


def register_row_part(
    name: str, read: Callable[[Conversation], Hashable], fields: tuple[str, ...] = ()
) -> None:
    """Show one more thing in the row: `read(conversation)` gives a hashable value the row
    template reaches as `r.part(name)` (through the registering app's template tag). `read`
    may use the relations registered with `register_row_related`, `ROW_FIELDS` and the
    conversation's `fields` named here: a list page reads no other column (another would cost
    a query per row)."""
    _parts[name] = read
    _part_fields.update(fields)


def row_fields() -> tuple[str, ...]:
    """The conversation's columns a list page reads: `ROW_FIELDS` and the parts' `fields`."""
    return ROW_FIELDS + tuple(sorted(_part_fields - set(ROW_FIELDS)))


@dataclass(frozen=True, slots=True)
class Row:
    """Everything the row shows, as plain values (the times already in the viewer's zone)."""

    pk: int
    status: str  # the effective status: a snooze that fell due reads "open"
    priority: int
    unread: int
    team_id: int | None
    assignee_id: int | None
    deleted: bool
    # As {{ moment|date:"U.u" }}: the browser sorts a pushed row with them as strings.
    waiting_since_stamp: str
    last_message_at_stamp: str
    closed_at_stamp: str
    version: str
    name: str
    preview: str
    channel: str
    contact: str
    waiting_since_iso: str
    waiting_for: str
    assignee: str
    snoozed_until_iso: str
    snoozed_until_text: str
    snooze_until_reply: bool
    snooze_reason: str
    parts: tuple[tuple[str, Hashable], ...] = ()

    def part(self, name: str) -> Hashable:
        for key, value in self.parts:
            if key == name:
                return value
        return None


def _stamp(moment: datetime | None) -> str:
    """{{ moment|date:"U.u" }}: seconds since the epoch and microseconds."""
    if moment is None:
        return ""
    return f"{int(moment.timestamp())}.{moment.microsecond:06d}"


def _channel(kind: str) -> str:
    """{{ inbox.get_kind_display }} without building the choices' dict per row."""
    try:
        return str(Inbox.Kind(kind).label)
    except ValueError:
        return kind


# The conversation's own columns `row_of` reads (with the parts', `row_fields()`, all that a
# list page reads of it).
ROW_FIELDS = (
    "id",
    "status",
    "priority",
    "unread_count",
    "team",
    "assignee",
    "deleted_at",
    "waiting_since",
    "last_message_at",
    "closed_at",
    "updated_at",
    "customer",
    "last_message_preview",
    "inbox",
    "snoozed_until",
    "snooze_until_reply",
    "snooze_reason",
)


class _Read(NamedTuple):
    """What a row shows, as read from its conversation and the moment: all that `_row` is
    given, so rows are kept (per language and zone) by it. Building it costs a few attribute
    reads; formatting the times and words of a row costs ten times that."""

    pk: int
    status: str
    priority: int
    unread: int
    team_id: int | None
    assignee_id: int | None
    deleted: bool
    waiting_since: datetime | None
    # What the "waiting for" words depend on: the whole minutes since waiting_since; for a
    # wait of four weeks or more (the words may name calendar months) the moment itself.
    waited: int | datetime
    last_message_at: datetime | None
    closed_at: datetime | None
    updated_at: datetime | None
    name: str
    preview: str
    kind: str
    contact: str
    assignee: str
    snoozed_until: datetime | None  # only while snoozed
    snooze_until_reply: bool
    snooze_reason: str
    parts: tuple[tuple[str, Hashable], ...]


_MINUTE = timedelta(minutes=1)
# Under 28 days no calendar month has passed, and timesince's words are a function of the
# whole minutes alone.
_MONTHLESS = timedelta(days=28)


def _waited(waiting: datetime | None, now: datetime) -> int | datetime:
    if waiting is None:
        return 0
    if now - waiting < _MONTHLESS:
        return (now - waiting) // _MINUTE
    return now


def row_of(c: Conversation, *, now: datetime | None = None) -> Row:
    """The row of a conversation read as the list reads it (customer, inbox and assignee
    selected, `effective_status` annotated, `contact_shown` set by `show_contacts`)."""
    now = now or timezone.now()
    waiting = c.waiting_since
    # As annotated by the list's query; the same rule in Python for a row read without it.
    status = getattr(c, "effective_status", None) or effective_status(c, now)
    snoozed = status == Conversation.Status.SNOOZED
    read = _Read(
        pk=c.pk,
        status=status,
        priority=c.priority,
        unread=c.unread_count,
        team_id=c.team_id,
        assignee_id=c.assignee_id,
        deleted=c.deleted_at is not None,
        waiting_since=waiting,
        waited=_waited(waiting, now),
        last_message_at=c.last_message_at,
        closed_at=c.closed_at,
        updated_at=c.updated_at,
        name=str(c.customer.name),
        preview=c.last_message_preview,
        kind=c.inbox.kind,
        contact=getattr(c, "contact_shown", "") or "",
        assignee=str(c.assignee) if c.assignee_id else "",
        snoozed_until=c.snoozed_until if snoozed else None,
        snooze_until_reply=bool(snoozed and c.snooze_until_reply),
        snooze_reason=c.snooze_reason if snoozed else "",
        parts=tuple((name, read(c)) for name, read in _parts.items()),
    )
    language, zone = translation.get_language() or "", timezone.get_current_timezone_name()
    if isinstance(read.waited, datetime):  # a key no later read repeats: not kept
        return _format(read, language, zone)
    return _row(read, language, zone)


def _format(read: _Read, _language: str, _zone: str) -> Row:
    """The row of `read` in the active language and zone (the last two: `_row`'s key)."""
    waiting, until = read.waiting_since, read.snoozed_until
    return Row(
        pk=read.pk,
        status=read.status,
        priority=read.priority,
        unread=read.unread,
        team_id=read.team_id,
        assignee_id=read.assignee_id,
        deleted=read.deleted,
        waiting_since_stamp=_stamp(waiting),
        last_message_at_stamp=_stamp(read.last_message_at),
        closed_at_stamp=_stamp(read.closed_at),
        version=_stamp(read.updated_at),
        name=read.name,
        preview=read.preview,
        channel=_channel(read.kind),
        contact=read.contact,
        waiting_since_iso=timezone.localtime(waiting).isoformat() if waiting else "",
        waiting_for=_waiting_for(waiting, read.waited) if waiting else "",
        assignee=read.assignee,
        snoozed_until_iso=local_time(until, "c") if until else "",
        snoozed_until_text=local_time(until, "D j M, H:i") if until else "",
        snooze_until_reply=read.snooze_until_reply,
        snooze_reason=read.snooze_reason,
        parts=read.parts,
    )


_row = functools.lru_cache(maxsize=CACHE_SIZE)(_format)


def _waiting_for(waiting: datetime, waited: int | datetime) -> str:
    """timesince(waiting, now) from what `_waited` kept of `now`. Stored times are UTC, so
    adding the minutes back crosses no change of clock (summer time)."""
    if isinstance(waited, datetime):
        return timesince(waiting, waited)
    return timesince(waiting, waiting + waited * _MINUTE)


def row_html(row: Row, *, current: bool = False, list_query: str = "") -> SafeString:
    """The row's markup, rendered once per process for equal inputs."""
    return mark_safe(  # noqa: S308 - the template's own autoescaped output
        _render(
            # The engine's template, kept by the cached loader (get_template wraps it anew).
            get_template(ROW_TEMPLATE).template,
            row,
            current,
            list_query,
            translation.get_language() or "",
            get_script_prefix(),
        )
    )


@functools.lru_cache(maxsize=CACHE_SIZE)
def _render(
    template: Any, row: Row, current: bool, list_query: str, _language: str, _prefix: str
) -> str:
    # The template object is in the key: a reloaded template (DEBUG) renders afresh.
    context = Context(
        {"r": row, "current": current, "list_query": list_query},
        autoescape=template.engine.autoescape,
    )
    return template.render(context).strip()


def forget_rendered() -> None:
    """Empty the per-process row caches (tests that count renders)."""
    _row.cache_clear()
    _render.cache_clear()
