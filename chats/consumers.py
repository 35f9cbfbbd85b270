"""The operator's one WebSocket: the doorbell for everything the operator may see.

On connect it joins the groups of the user's scope (`live_groups_for`) and says `hello` with
the heartbeat period and the newest event id. The browser may `subscribe` to a conversation
(checked against the gate), and on reconnect `resume` from its confirmed watermark: the
consumer replays what it missed from the live-event log, then carries on live, never sending
one event twice. An `access.changed` event (new role, scope, teams, or deactivation) makes the
consumer recompute its groups at once.

The channel layer is a best-effort doorbell, so every `LIVE_HEARTBEAT_SECONDS` the consumer
itself checks the live-event log through the gate for anything this socket should have heard
but did not (a Redis restart, a dropped group send), forwards it, re-joins its groups (a
restarted Redis has forgotten them) and sends a `heartbeat` naming the id up to which the
browser now holds everything (docs/live.md). The heartbeat also records presence, at most
once per `PRESENCE_WRITE_SECONDS`: a ping costs nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections import OrderedDict
from typing import Any

from channels.exceptions import StopConsumer
from django.conf import settings
from django.http import Http404

from accounts.access import with_profile
from accounts.models import User
from accounts.services import presence_heartbeat
from chats import live_render, live_window
from chats.selectors import (
    conversation_for,
    live_event_horizon,
    live_event_ids,
    live_event_latest,
    live_events_by_seq,
    live_groups_for,
)
from smartdesk.core.consumers import AuthenticatedJsonConsumer, db
from smartdesk.core.metrics import LIVE_RECOVERED
from smartdesk.core.realtime import conversation_group

logger = logging.getLogger(__name__)

CLOSE_DEACTIVATED = 4403
# Missed events are read from the log in pages of this many.
REPLAY_PAGE = 500
# The most ids a client may report as already held in one resume.
MAX_SEEN = 2000
# The most panel-only event ids a socket holds for a thread its page may yet open (`_held`).
MAX_HELD = 500
# Every this many heartbeats the socket re-reads its user and re-checks its groups and
# subscriptions through the gate, in case the events saying they changed were lost.
RECONCILE_EVERY = 3


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


class _Latest:
    """The newest committed event id, read at most once a second per process, so a floor of
    sockets ticking together costs one query, not one each."""

    ttl = 1.0

    def __init__(self) -> None:
        self.value = 0
        self.read_at = -1e9
        self.lock = asyncio.Lock()

    async def get(self, *, fresh: bool = False) -> int:
        if not fresh and time.monotonic() - self.read_at < self.ttl:
            return self.value
        async with self.lock:
            if fresh or time.monotonic() - self.read_at >= self.ttl:
                self.value = await db(live_event_latest)()
                self.read_at = time.monotonic()
        return self.value


_latest_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Latest] = (
    weakref.WeakKeyDictionary()
)


def _latest() -> _Latest:
    # One per event loop: an asyncio.Lock belongs to the loop it was first used in.
    loop = asyncio.get_running_loop()
    found = _latest_by_loop.get(loop)
    if found is None:
        found = _latest_by_loop[loop] = _Latest()
    return found


@db
def _heartbeat(user_id: int) -> None:
    presence_heartbeat(user_id=user_id)


@db
def _access(pk: int, subscriptions: set[int]) -> tuple[User | None, set[str]]:
    """The user as they are now, with what their events need read ahead (`live_render.prime`),
    and the groups they may hear: one trip to the database thread, at a connect and at each
    reconcile, so the events after it cost no query."""
    user = with_profile(User.objects.filter(pk=pk)).first()
    if user is None or not user.is_active:
        return user, set()
    return live_render.prime(user), _groups_for(user, subscriptions)


def _groups_for(user: User, subscriptions: set[int]) -> set[str]:
    groups = live_groups_for(user)
    for pk in subscriptions:
        try:
            conversation_for(user, pk, include_deleted=True)
        except Http404:
            continue
        groups.add(conversation_group(pk))
    return groups


@db
def _visible(user: User, pk: int) -> bool:
    # The pages' gate: a deleted conversation stays in sight (and live) for a role that may
    # restore it, as its thread page shows it (so Restore works with JavaScript on).
    try:
        conversation_for(user, pk, include_deleted=True)
    except Http404:
        return False
    return True


@db
def _entitled(user: User, after: int, until: int, limit: int) -> list[int]:
    return live_event_ids(user, after=after, until=until, limit=limit)


@db
def _events(seqs: list[int]) -> list[dict[str, Any]]:
    return live_events_by_seq(seqs)


@db
def _horizon() -> int | None:
    return live_event_horizon()


class OperatorConsumer(AuthenticatedJsonConsumer):
    endpoint = "operator"

    async def initial_groups(self, user: Any) -> list[str]:
        self.subscriptions: set[int] = set()
        fresh, groups = await _access(user.pk, self.subscriptions)
        self.user = fresh or user
        # Deactivated (or gone) between signing in and this connect: told so once open.
        self._refused = fresh is None or not fresh.is_active
        # Every event this user may hear with an id up to the watermark has been forwarded
        # (or predates the socket, when the browser did not resume); `_sent` holds the ids
        # above it that the browser has.
        self.watermark = 0
        self._sent: set[int] = set()
        # Changes only an open thread shows (`row_changed: false`) of conversations this
        # socket has not open, held back by id (newest last) until the page's `subscribe`,
        # which comes right after its connect and resume: one that crosses them still gets
        # them. From the second heartbeat on, nothing is held.
        self._held: OrderedDict[int, int] = OrderedDict()  # id -> conversation id
        self._holding = True
        # The newest id seen at the previous heartbeat: the next one checks up to it, so an
        # event still on its way through the channel layer is not mistaken for a lost one.
        self._check_until = 0
        # The newest id heard live, and as it was at the previous heartbeat; whether anything
        # was heard since: while events keep arriving, this socket may be behind its queue.
        self._heard_high = 0
        self._heard_high_at_tick = 0
        self._heard_since_tick = False
        self._presence_at = time.monotonic()
        # Catch-ups (a resume, a heartbeat) one at a time: a heartbeat must not confirm ids
        # that a resume is still sending.
        self._catching = asyncio.Lock()
        # A browser that resumes does so right after connecting; until it has (or clearly will
        # not), a heartbeat would confirm ids it has not been replayed yet.
        self._awaiting_resume = True
        self._ticks = 0
        if not self._refused:
            await _heartbeat(user.pk)
        return sorted(groups)

    async def on_accepted(self) -> None:
        if self._refused:
            await self.close(code=CLOSE_DEACTIVATED)
            await self.disconnect(CLOSE_DEACTIVATED)
            return
        self.watermark = self._check_until = self._heard_high_at_tick = await _latest().get()
        period = settings.LIVE_HEARTBEAT_SECONDS
        await self.send_json({"type": "hello", "heartbeat": period, "last_id": self.watermark})
        self.start_ticker()

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "ping":
            await self._presence_if_due()
            await self.send_json({"type": "pong"})
        elif kind == "resume":
            await self._resume(content)
        elif kind == "subscribe":
            await self._subscribe(content.get("conversation_id"))
        elif kind == "unsubscribe":
            pk = _int(content.get("conversation_id"))
            if pk in self.subscriptions:
                self.subscriptions.discard(pk)
                await self.leave(conversation_group(pk))
        else:
            await self.send_json({"type": "error", "error": "unknown message type"})

    async def _subscribe(self, raw: Any) -> None:
        pk = _int(raw)
        if pk is None or not await _visible(self.user, pk):
            # Missing and not visible are the same answer.
            await self.send_json({"type": "error", "code": 404, "conversation_id": raw})
            return
        self.subscriptions.add(pk)
        await self.join(conversation_group(pk))
        await self.send_json({"type": "subscribed", "conversation_id": pk})
        held = [seq for seq, cid in self._held.items() if cid == pk]
        for seq in held:
            self._held.pop(seq, None)
        for event in await _events(held) if held else ():
            await self.send_json(await self._decorated(event))

    def _hold(self, event: dict[str, Any]) -> bool:
        """Keep `event` from this page if it changes only a thread the socket has not open;
        it counts as forwarded (and is held for a `subscribe` that may cross it, see
        `_held`). True if kept."""
        seq = event.get("id")
        if (
            seq is None
            or event.get("row_changed") is not False
            or event.get("conversation_id") in self.subscriptions
        ):
            return False
        self._sent.add(seq)
        if self._holding:
            self._held[seq] = event.get("conversation_id")
            while len(self._held) > MAX_HELD:
                self._held.popitem(last=False)
        return True

    # --- catching up ---------------------------------------------------------------------

    async def _resume(self, content: dict[str, Any]) -> None:
        after = _int(content.get("last_id"))
        raw_seen = content.get("seen") or []
        if after is None or after < 0 or not isinstance(raw_seen, list):
            await self.send_json(
                {"type": "error", "error": "resume needs last_id (int) and seen (list of ints)"}
            )
            return
        horizon = await _horizon()
        if horizon is not None and after < horizon - 1:
            await self.send_json({"type": "resync", "reason": "too far behind"})
            return
        async with self._catching:
            until = await _latest().get(fresh=True)
            # Only ids that exist can be held: a client cannot grow this socket's memory.
            self._sent |= {
                s for s in raw_seen[:MAX_SEEN] if _int(s) is not None and after < s <= until
            }
            replayed = await self._catch_up(after, until)
            self._awaiting_resume = False
        if replayed is None:
            await self.send_json({"type": "resync", "reason": "too many missed events"})
            return
        await self.send_json({"type": "resumed", "replayed": replayed, "last_id": self.watermark})

    async def _catch_up(self, after: int, until: int) -> int | None:
        """Forward every event in (after, until] this user may see and the browser lacks, in
        commit order; then everything up to `until` is confirmed. None when more than
        `LIVE_REPLAY_MAX` are missing: a reload is cheaper than replaying them."""
        if until <= after:
            return 0
        limit = settings.LIVE_REPLAY_MAX
        wanted = limit + len(self._sent) + 1
        # The process's window of the log serves every socket's heartbeat; a resume from
        # further back than it reaches asks the database.
        entitled = await live_window.window().entitled(
            self.user, after=after, until=until, limit=wanted
        )
        if entitled is None:
            entitled = await _entitled(self.user, after, until, wanted)
        missing = [seq for seq in entitled if seq not in self._sent]
        if len(missing) > limit:
            return None
        sent = 0
        for start in range(0, len(missing), REPLAY_PAGE):
            for event in await _events(missing[start : start + REPLAY_PAGE]):
                if self._hold(event):
                    continue
                self._sent.add(event["id"])
                sent += 1
                if event.get("type") == "access.changed":
                    # Lost on its way: act on it now, as if it had come live...
                    await self._refresh_access()
                    if self.closed:
                        return sent
                    await self.send_json(event)
                    # ... and what follows it was chosen with the access it changed (a team
                    # joined, a scope narrowed): choose again with the new one.
                    self._confirm(event["id"])
                    rest = await self._catch_up(event["id"], until)
                    return None if rest is None else sent + rest
                await self.send_json(await self._decorated(event))
        self._confirm(until)
        return sent

    def _confirm(self, upto: int) -> None:
        if upto > self.watermark:
            self.watermark = upto
            self._sent = {seq for seq in self._sent if seq > upto}

    async def tick(self) -> None:
        """Each step on its own: Redis away must not stop presence, and the reverse."""
        self._ticks += 1
        await self._step("presence", self._presence_if_due)
        if self._ticks % RECONCILE_EVERY == 0:
            # The user's role, teams and the open thread's visibility, as they are now: the
            # events that say they changed may have been lost.
            await self._step("access", self._refresh_access)
        await self._step("groups", super().tick)  # a restarted Redis forgot every group
        if self._ticks >= 2 and self._holding:
            self._holding = False  # the page's subscribe has come, or will not
            self._held.clear()
        if self._awaiting_resume and self._ticks < 2:
            return  # the browser's resume comes first; it does not resume: next time
        self._awaiting_resume = False
        await self._step("catch-up", self._recover)

    async def _step(self, name: str, step: Any) -> None:
        try:
            await step()
        except (asyncio.CancelledError, StopConsumer):
            raise
        except Exception as exc:  # Redis or the database away: the next heartbeat retries
            logger.warning("heartbeat step %s of %s failed: %s", name, self.channel_name, exc)

    async def _recover(self) -> None:
        async with self._catching:
            until, self._check_until = self._check_until, await _latest().get()
            if self._heard_since_tick:
                # Events are still arriving: the ones above where the stream stood a heartbeat
                # ago may be waiting in this socket's queue (a process behind its sockets), not
                # lost. Replaying them would double the work that put it behind; they are
                # checked once the stream passes them, or falls quiet.
                until = min(until, self._heard_high_at_tick)
            self._heard_high_at_tick, self._heard_since_tick = self._heard_high, False
            recovered = await self._catch_up(self.watermark, until) if until > self.watermark else 0
            if recovered is None:
                await self.send_json({"type": "resync", "reason": "too many missed events"})
                return
            if recovered:
                LIVE_RECOVERED.inc(recovered)
                logger.warning(
                    "socket of user %s had missed %s live events", self.user.pk, recovered
                )
            await self.send_json({"type": "heartbeat", "last_id": self.watermark})

    async def _presence_if_due(self) -> None:
        if time.monotonic() - self._presence_at >= settings.PRESENCE_WRITE_SECONDS:
            self._presence_at = time.monotonic()
            await _heartbeat(self.user.pk)

    # --- live ----------------------------------------------------------------------------

    async def realtime_event(self, message: dict[str, Any]) -> None:
        group = message.get("group")
        if group is not None and group not in self.joined:
            return  # queued before this socket left the group: no longer ours to hear
        event = message["event"]
        if event.get("type") == "access.changed":
            if event.get("id") is not None:
                self._sent.add(event["id"])
            await self._refresh_access()
            if self.counted:
                await self.send_json(event)
            return
        seq = event.get("id")
        if seq is not None:
            self._heard_since_tick = True
            self._heard_high = max(self._heard_high, seq)
            if seq <= self.watermark or seq in self._sent:
                return  # already forwarded (through another group, or by a catch-up)
            if self._hold(event):
                return  # nothing this page shows changes; forwarded if it opens that thread
            self._sent.add(seq)
        await self.send_json(await self._decorated(event))
        if event.get("type") == "conversation.changed" and event.get("conversation_id") in (
            self.subscriptions
        ):
            await self._recheck_subscription(event["conversation_id"])

    async def _decorated(self, event: dict[str, Any]) -> dict[str, Any]:
        """The event with the fragments that change on this user's page, rendered once per
        distinct view in this process (`chats.live_render`)."""
        return await live_render.decorate(event, user=self.user, subscriptions=self.subscriptions)

    async def _recheck_subscription(self, pk: int) -> None:
        """Any change of a conversation (a transfer, an assignment after a wake or a reopen, a
        deletion…) may take it out of sight: then stop hearing it (this event, which says so
        and carries only ids, was the last one). A hand-kept list of "changes that matter"
        would drift, and a subscription is one conversation: the check is one query."""
        if not await _visible(self.user, pk):
            self.subscriptions.discard(pk)
            await self.leave(conversation_group(pk))

    async def _refresh_access(self) -> None:
        """Re-read the user and their groups. One at a time (a reconcile, a live or replayed
        `access.changed`): the last to finish must not put back an older read."""
        lock = self.__dict__.setdefault("_refreshing", asyncio.Lock())
        async with lock:
            await self._refresh_access_now()

    async def _refresh_access_now(self) -> None:
        checked = set(self.subscriptions)
        user, wanted = await _access(self.user.pk, checked)
        if user is None or not user.is_active:
            await self.close(code=CLOSE_DEACTIVATED)
            await self.disconnect(CLOSE_DEACTIVATED)
            return
        self.user = user
        # Subscriptions changed while this read ran: one left is not joined again, one made
        # is checked again, with the user as they are now.
        wanted -= {conversation_group(pk) for pk in checked - self.subscriptions}
        for pk in self.subscriptions - checked:
            if await _visible(user, pk):
                wanted.add(conversation_group(pk))
        for group in self.joined - wanted:
            await self.leave(group)
            if group.startswith("conversation."):
                self.subscriptions.discard(int(group.split(".", 1)[1]))
        for group in wanted - self.joined:
            await self.join(group)
