"""Live events with the HTML they change: rendered once per distinct view, not per subscriber.

The operator consumer calls `decorate(event, user=...)` before it sends an event. For an event
about a conversation the answer carries `"html"`:

- `row`: the conversation's list row (templates/chats/_row.html, the list's own partial), or
  `""` when this user may no longer see the conversation (the browser drops the row);
- `message`: for `message.*` events, the message as the thread shows it
  (templates/chats/_message.html), or `""` when this user's view does not show it (a deleted
  message for a role that does not see deleted messages);
- `lang`: the language it was rendered in (a page in another language refetches instead).

An empty `html` means nothing this page's list or thread shows changes (a new message of a
conversation the socket has not open: its row comes with the `conversation.changed` that
follows; a change that says `row_changed: false`, seen only in the open thread's panel).

The browser patches its page with them (static/js/operator.js) instead of refetching whole
fragments, so an event costs O(distinct views) renders per process, not O(subscribers).

A *view* is what changes the markup: language, time zone, and the capabilities that show
something (personal data, deleted messages, deleted conversations). Rendered fragments are kept
per (event, view) in a small per-process LRU; an asyncio lock per entry makes the first socket
of a view render while the others of that process wait for its result.

Bursts are coalesced per conversation: the row's query also reads the newest committed event
id (`live_event_watermark`; seq order is commit order), so a row read when event N was already
committed shows its effect. The newest row per (conversation, view) is kept, and an event whose
id is at or below its watermark is served by it without a render: a process that falls behind
renders each busy conversation once per turn, not once per event, and catches up.

The first user of a view reads through the gate (`presenters.list_row`, the same
`visible_conversations` filter as `conversation_for`). The others of that view get the cached
fragments only after `may_see` (the gate's rule in memory, beside it in
chats/selectors/gate.py, on the row just read, with no query per event) says the conversation
is theirs too: a socket that hears the event of a conversation leaving its
sight gets `row: ""`, never the fragment rendered for someone who still sees it.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import SynchronousOnlyOperation
from django.template.loader import render_to_string
from django.utils import timezone, translation

from accounts.access import Capability, has_capability, profile_of
from chats.selectors import Facts, may_see, team_ids_of
from chats.views.presenters import list_row, row_html, row_of, thread_message
from smartdesk.core.consumers import db

logger = logging.getLogger(__name__)

CACHE_SIZE = 1024
# Events whose list row changes. A new message changes its row through the
# `conversation.changed` that follows it; a deleted one may change the preview without one.
ROW_EVENTS = frozenset({"conversation.changed", "conversation.reassigned", "message.deleted"})
MESSAGE_PREFIX = "message."

T = TypeVar("T")


@dataclass(frozen=True)
class ViewKey:
    language: str
    time_zone: str
    personal_data: bool
    deleted_messages: bool
    deleted_conversations: bool


@dataclass(frozen=True)
class Rendered:
    facts: Facts
    html: dict[str, str]
    # The newest event id committed when the row was read: it shows every event up to it.
    watermark: int | None = None


_cache: OrderedDict[tuple[Any, ...], Rendered] = OrderedDict()
# The newest row per (conversation id, view), for the events that change only the row.
_latest: OrderedDict[tuple[Any, ...], Rendered] = OrderedDict()
ROW_ONLY = ("row",)
_locks: weakref.WeakValueDictionary[tuple[Any, ...], asyncio.Lock] = weakref.WeakValueDictionary()


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


async def _maybe_sync(work: Callable[[], T]) -> T:
    """Run `work` here when it needs no query (what it reads is cached on the user object, as
    on a consumer's user after its first event); in the database thread otherwise."""
    try:
        return work()
    except SynchronousOnlyOperation:
        return await db(work)()


_VIEW_ATTR = "_live_render_view"


def view_key(user: Any) -> ViewKey:
    """The user's view, worked out once per user object (the consumer takes a fresh one
    whenever access changes, and at every reconcile)."""
    found = getattr(user, _VIEW_ATTR, None)
    if found is None:
        found = _view_key(user)
        setattr(user, _VIEW_ATTR, found)
    return found


def _view_key(user: Any) -> ViewKey:
    profile = profile_of(user)
    return ViewKey(
        language=(profile.language if profile and profile.language else settings.LANGUAGE_CODE),
        time_zone=(profile.time_zone if profile and profile.time_zone else settings.TIME_ZONE),
        personal_data=has_capability(user, Capability.VIEW_CUSTOMER_PII),
        deleted_messages=has_capability(user, Capability.VIEW_DELETED_MESSAGES),
        deleted_conversations=has_capability(user, Capability.RESTORE_CONVERSATIONS),
    )


def prime(user: Any) -> Any:
    """Read now (in the database thread) what this user's events need of them, their view and
    teams, so that `decorate` and `may_see` cost them no query and no thread hop. Returns the
    user."""
    view_key(user)
    team_ids_of(user)
    return user


def _parts(event: dict[str, Any], subscriptions: Collection[int] | None) -> tuple[str, ...]:
    kind = str(event.get("type"))
    parts = []
    if kind in ROW_EVENTS and event.get("row_changed") is not False:
        parts.append("row")
    if (
        kind.startswith(MESSAGE_PREFIX)
        and _int(event.get("message_id")) is not None
        and (subscriptions is None or event.get("conversation_id") in subscriptions)
    ):
        parts.append("message")
    return tuple(parts)


def _render(
    user: Any, event: dict[str, Any], parts: tuple[str, ...], key: ViewKey
) -> Rendered | None:
    """The fragments for `user`'s view, read through the gate; None if they may not see the
    conversation. A fixed number of queries: the row, and the message if asked."""
    with translation.override(key.language), timezone.override(ZoneInfo(key.time_zone)):
        row = list_row(user, event["conversation_id"], watermark=True)
        if row is None:
            return None
        html: dict[str, str] = {}
        if "row" in parts:
            html["row"] = str(row_html(row_of(row)))
        if "message" in parts:
            item = thread_message(user, row, event["message_id"])
            html["message"] = (
                ""
                if item is None
                else render_to_string(
                    "chats/_message.html",
                    {
                        "m": item.message,
                        "attachments": item.attachments,
                        "conversation": row,
                        "offer": {"delete_messages": row.deleted_at is None},
                        "list_query": "",
                        # Shared by a whole view, so it must carry nobody's CSRF token:
                        # the browser adds its own page's.
                        "live_fragment": True,
                    },
                ).strip()
            )
        html["lang"] = key.language
    return Rendered(
        facts=Facts(
            team_id=row.team_id, assignee_id=row.assignee_id, deleted=row.deleted_at is not None
        ),
        html=html,
        watermark=_int(getattr(row, "live_watermark", None)),
    )


def _remember(key: tuple[Any, ...], rendered: Rendered, store: OrderedDict = _cache) -> None:
    store[key] = rendered
    store.move_to_end(key)
    while len(store) > CACHE_SIZE:
        store.popitem(last=False)


def _newer(key: tuple[Any, ...], seq: int | None) -> Rendered | None:
    """The newest row of this conversation and view, if it was read after event `seq`
    committed (its watermark is at or above it)."""
    if seq is None:
        return None
    found = _latest.get(key)
    if found is None or found.watermark is None or found.watermark < seq:
        return None
    _latest.move_to_end(key)
    return found


def _note_latest(key: tuple[Any, ...], rendered: Rendered) -> None:
    known = _latest.get(key)
    if rendered.watermark is not None and (
        known is None or known.watermark is None or known.watermark < rendered.watermark
    ):
        _remember(key, rendered, _latest)


def _lock(key: tuple[Any, ...]) -> asyncio.Lock:
    lock = _locks.get(key)
    if lock is None:
        lock = asyncio.Lock()
        _locks[key] = lock
    return lock


def _gone(event: dict[str, Any], key: ViewKey) -> dict[str, Any]:
    return {**event, "html": {"row": "", "lang": key.language}}


async def decorate(
    event: dict[str, Any], *, user: Any, subscriptions: Collection[int] | None = None
) -> dict[str, Any]:
    """The event to send to `user`: the same dict, or a copy carrying `html` (see the module
    docstring). `subscriptions`, when given, are the conversations this socket has open: the
    message fragment goes only to them. Never raises: an event that cannot be rendered is sent
    as it is, and the browser refetches."""
    conversation_id = _int(event.get("conversation_id"))
    if conversation_id is None or user is None:
        return event
    kind = event.get("type")
    if not isinstance(kind, str) or not (kind in ROW_EVENTS or kind.startswith(MESSAGE_PREFIX)):
        return event
    parts = _parts(event, subscriptions)
    if not parts:
        # Nothing of this page changes (a message in a conversation it does not show; the
        # row follows with `conversation.changed`): an empty `html` says so, no refetch.
        return {**event, "html": {}}
    try:
        key = await _maybe_sync(lambda: view_key(user))
        seq = _int(event.get("id"))
        # The event's own identity beside its id: ids are never reused, but a cache that
        # outlives a test database must not serve one event's HTML for another.
        cache_key = (
            seq,
            event.get("type"),
            conversation_id,
            event.get("message_id"),
            key,
            parts,
        )
        # Only the row is coalesced: a message fragment is one message's, whatever came after.
        latest_key = (conversation_id, key) if parts == ROW_ONLY else None

        def known() -> Rendered | None:
            found = _cache.get(cache_key) if seq is not None else None
            if found is None and latest_key is not None:
                found = _newer(latest_key, seq)
                if found is not None:
                    _remember(cache_key, found)
            return found

        rendered = known()
        if rendered is None:
            # One render at a time per conversation and view: the events that wait for it are
            # served by the next one, if not by it.
            async with _lock(latest_key or cache_key):
                rendered = known()
                if rendered is None:
                    rendered = await db(_render)(user, event, parts, key)
                    if rendered is None:
                        # This user may not see it; another user of the view may: not cached.
                        return _gone(event, key)
                    if seq is not None:
                        _remember(cache_key, rendered)
                        if latest_key is not None:
                            _note_latest(latest_key, rendered)
                    return {**event, "html": dict(rendered.html)}
        else:
            _cache.move_to_end(cache_key)
        facts = rendered.facts
        if not await _maybe_sync(lambda: may_see(user, facts)):
            return _gone(event, key)
        return {**event, "html": dict(rendered.html)}
    except Exception:
        logger.exception("could not render live event %s", event.get("id"))
        return event
