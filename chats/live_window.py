"""The live-event log's recent past, read once per process for all of its sockets.

Every heartbeat each operator socket asks the log which events it should have heard since its
watermark, through the gate as it stands now, to find any it missed (chats/consumers.py,
docs/live.md). Asked of the database once per socket, that was a gated query per socket per
heartbeat: on a floor of 300 sockets in one process, a tenth of the socket process's time.

Here the process reads, for every socket at once:

- each event's identity once: seq, type, addressee and conversation (they never change), in
  commit order, so the rows read are every event up to the last one (`live_event_heads`);
- the gate's facts of those events' conversations (team, assignee, deleted) as they stand now,
  at most once per `FACTS_TTL` (`live_event_conversation_facts`);

and each socket applies the gate's rule to them in memory (`entitled`): its own events, those of
conversations `live_render.may_see` lets it see, and for scope `all` the admins' events — the
rule of `live_event_ids`, which tests hold this to. A socket whose watermark is older than the
window (a resume from long ago) gets None and asks the database as before.

The facts may be up to `FACTS_TTL` old, as a row rendered for a live event is: a conversation
that left a socket's sight within that second may have its event id replayed; events carry ids
only, and their fragments are rendered through the gate (`live_render.decorate`).
"""

from __future__ import annotations

import asyncio
import time
import weakref
from typing import Any

from django.core.exceptions import SynchronousOnlyOperation

from accounts.access import scope_of
from accounts.models import Role
from chats.live_render import Facts, may_see
from chats.selectors import (
    ADMIN_EVENT_TYPES,
    live_event_conversation_facts,
    live_event_heads,
)
from smartdesk.core.consumers import db

# Facts older than this are read again before they are used.
FACTS_TTL = 1.0
# Events read per trip to the database; the window keeps up to MAX_ROWS of them.
READ_PAGE = 5000
MAX_ROWS = 20_000

_Head = tuple[int, str, int | None, int | None]  # seq, type, user id, conversation id


def may_replay(user: Any, head: _Head, facts: dict[int, Facts]) -> bool:
    """`live_event_ids`'s rule (`_replayable`) for one event, on facts already read."""
    _seq, kind, user_id, conversation_id = head
    if user_id is not None and user_id == user.pk:
        return True
    if conversation_id is not None:
        found = facts.get(conversation_id)
        if found is not None and may_see(user, found):
            return True
    return kind in ADMIN_EVENT_TYPES and scope_of(user) == Role.Scope.ALL


class Window:
    """The events with a seq in (`low`, `high`], in commit order, and their conversations'
    facts. One per event loop (its lock belongs to one)."""

    def __init__(self) -> None:
        self.low: int | None = None
        self.high = 0
        self.heads: list[_Head] = []
        self.facts: dict[int, Facts] = {}
        self.facts_at = -1e9
        self.lock = asyncio.Lock()

    async def entitled(self, user: Any, *, after: int, until: int, limit: int) -> list[int] | None:
        """The seqs in (after, until] of events `user` may see, in commit order (the first
        `limit`), as `live_event_ids` gives them; None when the window does not reach back to
        `after` or forward to `until` (the caller asks the database)."""
        async with self.lock:
            if self.low is None:
                self.low = self.high = after
            if after < self.low:
                return None
            if until > self.high:
                await self._read(until)
                if until > self.high:
                    return None
            if time.monotonic() - self.facts_at >= FACTS_TTL:
                await self._read_facts()
            heads, facts = self.heads, self.facts

        def pick() -> list[int]:
            found: list[int] = []
            for head in heads[_first_after(heads, after) :]:
                if head[0] > until or len(found) >= limit:
                    break
                if may_replay(user, head, facts):
                    found.append(head[0])
            return found

        try:
            return pick()
        except SynchronousOnlyOperation:  # a user object not primed (`live_render.prime`)
            return await db(pick)()

    async def _read(self, until: int) -> None:
        while self.high < until:
            page = await db(live_event_heads)(after=self.high, limit=READ_PAGE)
            if not page:
                # Nothing committed above `high` yet: `until` was read from a newer snapshot
                # than this one cannot be; the next heartbeat reads it.
                return
            self.heads.extend(page)
            self.high = page[-1][0]
            self.facts_at = -1e9  # new conversations: read the facts again
        if len(self.heads) > MAX_ROWS:
            dropped = self.heads[: len(self.heads) - MAX_ROWS // 2]
            self.heads = self.heads[len(dropped) :]
            self.low = dropped[-1][0]

    async def _read_facts(self) -> None:
        ids = {head[3] for head in self.heads if head[3] is not None}
        read = await db(live_event_conversation_facts)(ids)
        self.facts = {
            pk: Facts(team_id=team, assignee_id=assignee, deleted=deleted)
            for pk, (team, assignee, deleted) in read.items()
        }
        self.facts_at = time.monotonic()


def _first_after(heads: list[_Head], after: int) -> int:
    """The index of the first head with a seq above `after` (heads are in seq order)."""
    low, high = 0, len(heads)
    while low < high:
        middle = (low + high) // 2
        if heads[middle][0] <= after:
            low = middle + 1
        else:
            high = middle
    return low


_windows: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Window] = weakref.WeakKeyDictionary()


def window() -> Window:
    loop = asyncio.get_running_loop()
    found = _windows.get(loop)
    if found is None:
        found = _windows[loop] = Window()
    return found
