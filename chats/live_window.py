"""The live-event log's recent past, read once per process for all of its sockets.

Every heartbeat each operator socket asks the log which events it should have heard since its
watermark, through the gate, to find any it missed (chats/consumers.py, docs/live.md). Asked
of the database once per socket, that is a gated query per socket per heartbeat.

Here the process reads, for every socket at once:

- each event's head once: seq, type, addressee and conversation, which never change
  (`live_event_heads`), up to the id the socket asks about, as the gated query does;
- the gate's facts of those events' conversations (team, assignee, deleted) as they stand now
  (`live_event_conversation_facts`): those of the conversations of each batch of new events as
  it is read, and all of them again at least once per `FACTS_TTL`;

and each socket applies the gate's rule to them in memory (`may_replay`, beside the gate in
chats/selectors/: the rule of `live_event_ids`, which tests hold it to). A socket whose range
the window cannot serve gets None and asks the database as before: a watermark older than the
window, a range wider than `MAX_ROWS`, a read that failed a moment ago.

How fresh the facts are: a change that moves a conversation (assign, transfer, delete) logs an
event of it, and a socket asking about any id at or after that event makes the window read it,
and that conversation's facts, first. So every move up to the id a socket asks about is seen;
a move logged after it, or one that logged nothing (none should), within `FACTS_TTL`. The
user's side (role, teams) is the socket's user object, read at its connect, at every
`access.changed` (a catch-up that replays one chooses what follows it again) and at each
reconcile, as for `live_render.decorate`.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import time
import weakref
from operator import itemgetter
from typing import Any

from django.core.exceptions import SynchronousOnlyOperation

from chats.selectors import (
    Facts,
    live_event_conversation_facts,
    live_event_heads,
    may_replay,
)
from chats.selectors.live_events import EventHead
from smartdesk.core.consumers import db

logger = logging.getLogger(__name__)

# Facts older than this are read again before they are used.
FACTS_TTL = 1.0
# Events read per trip to the database; the window keeps at most MAX_ROWS of them and serves
# no range wider than that (the socket asks the database instead).
READ_PAGE = 5000
MAX_ROWS = 20_000
# After a read fails (the database away), the window answers None for this long: every
# socket then asks the database on its own, and fails or not, as before the window.
FAILED_FOR = 2.0

_seq = itemgetter(0)


class Window:
    """The heads of the events with a seq in (`low`, `high`], in commit order, and their
    conversations' facts. One per event loop (its lock belongs to one)."""

    def __init__(self) -> None:
        self.started = False
        self.low = 0
        self.high = 0
        self.heads: list[EventHead] = []
        self.facts: dict[int, Facts] = {}
        self.facts_at = -1e9
        self.failed_at = -1e9
        self.lock = asyncio.Lock()

    async def entitled(self, user: Any, *, after: int, until: int, limit: int) -> list[int] | None:
        """The seqs in (after, until] of events `user` may see, in commit order (the first
        `limit`), as `live_event_ids` gives them; None when the window cannot serve that range
        (the caller asks the database). `user` should be primed (`live_render.prime`)."""
        if until <= after:
            return []
        async with self.lock:
            if time.monotonic() - self.failed_at < FAILED_FOR:
                return None
            try:
                served = await self._cover(after, until)
            except Exception:
                self.failed_at = time.monotonic()
                logger.warning("the live window could not read the log", exc_info=True)
                return None
            if not served:
                return None
            heads, facts = self.heads, self.facts  # replaced, never changed in place

        def pick() -> list[int]:
            found: list[int] = []
            for index in range(bisect.bisect_right(heads, after, key=_seq), len(heads)):
                head = heads[index]
                if head[0] > until or len(found) >= limit:
                    break
                if may_replay(user, head=head, facts=facts):
                    found.append(head[0])
            return found

        try:
            return pick()
        except SynchronousOnlyOperation:  # a user object not primed: its teams need a query
            return await db(pick)()

    async def _cover(self, after: int, until: int) -> bool:
        """Make the window hold (after, until] with fresh facts; False if it cannot."""
        if until - after > MAX_ROWS:
            return False  # seqs are unique, so that many ids may be that many events
        if not self.started or until - self.high > MAX_ROWS:
            # The first socket to ask, or far behind the log (a process that had no socket
            # for a while): start where this socket stands; those behind it ask the database.
            self._restart(after)
        if after < self.low:
            return False
        if until > self.high:
            await self._read(until)
        if after < self.low:
            return False  # the read made room by dropping the oldest heads
        if time.monotonic() - self.facts_at >= FACTS_TTL:
            await self._read_facts()
        return True

    def _restart(self, at: int) -> None:
        self.started = True
        self.low = self.high = at
        self.heads, self.facts, self.facts_at = [], {}, -1e9

    async def _read(self, until: int) -> None:
        """Read the heads in (high, until], then the facts of their conversations (a change
        that moves a conversation logs an event of it, so these are the ones that may have
        moved); the window changes only once all are read."""
        heads, low, high = list(self.heads), self.low, self.high
        everything = not heads  # then the facts read here are all the window's
        read: set[int] = set()
        while high < until:
            page = await db(live_event_heads)(after=high, until=until, limit=READ_PAGE)
            heads.extend(page)
            read |= {head[3] for head in page if head[3] is not None}
            # A short page holds every event up to `until` (seq order is commit order).
            high = until if len(page) < READ_PAGE else page[-1][0]
            if len(heads) > MAX_ROWS:
                dropped = len(heads) - MAX_ROWS // 2
                low = heads[dropped - 1][0]
                heads = heads[dropped:]
        facts = dict(self.facts)
        if read:
            found = await db(live_event_conversation_facts)(conversation_ids=read)
            for pk in read:
                if pk in found:
                    facts[pk] = found[pk]
                else:
                    facts.pop(pk, None)  # erased: nobody sees it through a conversation
        self.heads, self.low, self.high, self.facts = heads, low, high, facts
        if everything:
            self.facts_at = time.monotonic()

    async def _read_facts(self) -> None:
        """All the window's conversations' facts, afresh (a change that logged no event)."""
        ids = {head[3] for head in self.heads if head[3] is not None}
        self.facts = await db(live_event_conversation_facts)(conversation_ids=ids)
        self.facts_at = time.monotonic()


_windows: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Window] = weakref.WeakKeyDictionary()


def window() -> Window:
    loop = asyncio.get_running_loop()
    found = _windows.get(loop)
    if found is None:
        found = _windows[loop] = Window()
    return found
