"""The base of every WebSocket consumer: groups, metrics, forwarding; authenticated users.

However a socket ends — a clean close, a client gone while we were sending, an error in a
handler, a revocation, the server shutting down — the consumer leaves every group it joined
and the connection gauge comes down exactly once (`_release`, run from `__call__`'s
`finally`). A member left behind would be fanned out to forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

from channels.consumer import get_handler_name
from channels.db import DatabaseSyncToAsync
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from smartdesk.core.metrics import WEBSOCKET_ACCEPTED, WEBSOCKET_CONNECTIONS
from smartdesk.core.parsers import UnsafeJson, loads_bounded
from smartdesk.core.realtime import FORWARD_TYPE

logger = logging.getLogger(__name__)


_executor: ThreadPoolExecutor | None = None


def _db_executor() -> ThreadPoolExecutor:
    """Threads for the sockets' database calls: as many as the process has pooled
    connections but two (left for HTTP requests in a process that serves both), and never
    fewer than the loop's default pool (cores + 4). With the loop's default, renders queued
    behind each other while connections sat idle."""
    global _executor
    if _executor is None:
        pooled = int(getattr(settings, "DB_POOL_MAX_SIZE", 0) or 0)
        size = max((os.cpu_count() or 1) + 4, pooled - 2)
        _executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix="socket-db")
    return _executor


def db(func: Any) -> Any:
    """A consumer's database call, run in the thread pool rather than on the one thread that
    serves every sync view of the process: a socket's reads must not queue behind HTTP ingest
    (and each other). Each call borrows a pooled connection and gives it back."""
    return DatabaseSyncToAsync(func, thread_sensitive=False, executor=_db_executor())


# Close codes in the private range (4000-4999) so the browser can tell why.
CLOSE_UNAUTHENTICATED = 4401
# The standard "try again later": a backing service is away; the browser reconnects.
CLOSE_TRY_AGAIN_LATER = 1013
# Our clients send small control frames (hello, resume, subscribe, ping); anything larger or
# nested deeper than the API accepts is answered with an error frame, never parsed.
MAX_FRAME_CHARS = 256 * 1024
MAX_FRAME_DEPTH = 8


class GroupConsumer(AsyncJsonWebsocketConsumer):
    """A socket that hears channel-layer groups and only forwards what it hears.

    It leaves its groups however it ends, is counted in the connection gauge while open, and
    once started (`start_ticker`) re-joins its groups every `LIVE_HEARTBEAT_SECONDS`: a Redis
    that restarted has forgotten every membership (and a subscribe may have failed while it
    was away); with the list layer a membership not renewed expires, so a process killed
    without leaving stops being fanned out to.
    """

    endpoint: ClassVar[str] = "unnamed"

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' dispatch without its hop to the process's sync thread before every
        message (`aclose_old_connections`, which closes that thread's stale connections):
        ~0.15 ms of CPU per message per socket, a large share of a process fanning events out
        to hundreds of sockets (docs/live.md). Nothing of ours queries on that thread: every
        database call of the consumers goes through `db()` or `database_sync_to_async`, which
        close stale connections in their own thread before and after the call (no async ORM
        calls, no plain `sync_to_async` around a query)."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def receive(self, text_data: str | None = None, bytes_data: Any = None, **kwargs: Any):
        """Parse a client frame within bounds: a bad frame gets an error frame back and the
        socket stays open (the same rule as the API's JSON 4xx, never a crashed consumer)."""
        if text_data is None:
            await self.send_json({"type": "error", "error": "binary frames are not accepted"})
            return
        if len(text_data) > MAX_FRAME_CHARS:
            await self.send_json({"type": "error", "error": "frame too large"})
            return
        try:
            content = loads_bounded(text_data, max_depth=MAX_FRAME_DEPTH)
        except UnsafeJson as refused:
            await self.send_json({"type": "error", "error": str(refused)})
            return
        await self.receive_json(content, **kwargs)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.joined: set[str] = set()
        self.counted = False
        self.closed = False
        self._ticker: asyncio.Task[None] | None = None
        try:
            await super().__call__(scope, receive, send)
        finally:
            # Shielded: a cancelled consumer (server shutdown, client gone) must still leave
            # its groups.
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._release())

    def count(self) -> None:
        if not self.counted:
            self.counted = True
            WEBSOCKET_CONNECTIONS.labels(self.endpoint).inc()
            WEBSOCKET_ACCEPTED.labels(self.endpoint).inc()

    async def join(self, group: str) -> None:
        # Noted first: the pub/sub layer holds the membership from before its SUBSCRIBE, so a
        # join that fails half-way is still left at the end (and retried by the heartbeat).
        self.joined.add(group)
        await self.channel_layer.group_add(group, self.channel_name)

    async def leave(self, group: str) -> None:
        self.joined.discard(group)
        await self.channel_layer.group_discard(group, self.channel_name)

    async def send_json(self, content: Any, close: bool = False) -> None:
        if self.closed:
            return
        try:
            await super().send_json(content, close=close)
        except (TypeError, ValueError):
            raise  # a payload that is not JSON: our bug, not a client gone
        except Exception as exc:  # the client went away while we were writing to it
            logger.info("socket %s gone while sending: %s", self.channel_name, exc)
            self.closed = True
            raise StopConsumer() from exc

    async def close(self, code: int | bool | None = None, reason: str | None = None) -> None:
        self.closed = True
        with contextlib.suppress(Exception):
            await super().close(code=code, reason=reason)

    async def disconnect(self, code: int) -> None:
        self.closed = True
        await self._release()

    async def _release(self) -> None:
        """Stop the ticker, uncount the socket and leave every group; safe to call twice."""
        self.closed = True
        ticker, self._ticker = self._ticker, None
        if ticker is not None and ticker is not asyncio.current_task():
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await ticker
        if self.counted:
            self.counted = False
            WEBSOCKET_CONNECTIONS.labels(self.endpoint).dec()
        for group in list(self.joined):
            self.joined.discard(group)
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except Exception as exc:  # Redis down: the membership (list layer) expires, and
                # the pub/sub layer's is gone from the process already
                logger.warning("could not leave %s: %s", group, exc)

    def start_ticker(self) -> None:
        self._ticker = asyncio.create_task(self._tick_forever())

    async def _tick_forever(self) -> None:
        period = float(settings.LIVE_HEARTBEAT_SECONDS)
        # Sockets that connected together should not all tick together.
        await asyncio.sleep(period * random.uniform(0.5, 1.0))  # noqa: S311
        while not self.closed:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except StopConsumer:
                return
            except Exception as exc:  # Redis or the database away: try again next time
                if self.closed:
                    return
                logger.warning("heartbeat of %s failed: %s", self.channel_name, exc)
            await asyncio.sleep(period)

    async def tick(self) -> None:
        for group in list(self.joined):
            # Left while an earlier one was being renewed: not joined again.
            if group in self.joined:
                await self.channel_layer.group_add(group, self.channel_name)

    async def realtime_batch(self, message: dict[str, Any]) -> None:
        """A group's events as the publisher batched them (`realtime.BATCH_TYPE`): each is
        handled as if it had come alone, in order."""
        group = message.get("group")
        for event in message.get("events") or ():
            if self.closed:
                return
            await self.realtime_event({"type": FORWARD_TYPE, "event": event, "group": group})

    async def realtime_event(self, message: dict[str, Any]) -> None:
        await self.send_json(message["event"])


class AuthenticatedJsonConsumer(GroupConsumer):
    """Accepts only a logged-in user; joins the groups `initial_groups()` names.

    Subclasses decide which groups a user may hear (through the access gate) and never
    do more with an event than forward it.
    """

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        try:
            for group in await self.initial_groups(user):
                await self.join(group)
        except Exception as exc:  # Redis (or the database) away: the browser retries later
            logger.warning("socket refused for now: %s", exc)
            await self.accept()
            await self.close(code=CLOSE_TRY_AGAIN_LATER)
            return
        await self.accept()
        self.count()
        await self.on_accepted()

    async def initial_groups(self, user: Any) -> list[str]:
        return []

    async def on_accepted(self) -> None:
        """Called once the socket is open and counted."""
