"""The only module that talks to the channel layer.

Services call `publish()` inside their transaction. The event is written to the live-event
log (`smartdesk.core.models.LiveEvent`) in that transaction and sent to its groups only after the
transaction commits, stamped with its commit-ordered `id` (the log's `seq`). No browser ever
hears of a row that was rolled back, and a browser that reconnects asks for everything after
the last id it saw: the database is the truth, the socket only rings the doorbell.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import connections

from smartdesk.core.metrics import LIVE_DROPPED
from smartdesk.core.models import LiveEvent
from smartdesk.core.oncommit import after_commit

logger = logging.getLogger(__name__)

# Users whose role scope is `all` conversations.
ADMINS_GROUP = "admins"
# The message type every consumer handles by forwarding the event to its browser.
FORWARD_TYPE = "realtime.event"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def team_group(team_id: int) -> str:
    return f"team.{team_id}"


def conversation_group(conversation_id: int) -> str:
    return f"conversation.{conversation_id}"


def publish(
    event: Mapping[str, Any],
    *,
    groups: Iterable[str],
    conversation_id: int | None = None,
    user_id: int | None = None,
    using: str = "default",
) -> LiveEvent:
    """Log `event` and send it to `groups` once the current transaction commits.

    The event must be a flat JSON-serialisable dict with a `type`; it is checked here, where
    it is built. `conversation_id` / `user_id` say who may replay it after a reconnect:
    whoever can see that conversation, or that user.
    """
    if "type" not in event:
        raise ValueError("a realtime event needs a 'type'")
    payload = json.loads(json.dumps(event))
    row = LiveEvent.objects.using(using).create(
        type=payload["type"], payload=payload, user_id=user_id, conversation_id=conversation_id
    )
    if connections[using].vendor != "postgresql":
        # SQLite has one writer at a time, so insertion order is commit order already.
        row.seq = row.pk
        row.save(update_fields=["seq"], using=using)
    targets = sorted(set(groups))
    after_commit(_send_committed, row.pk, payload, targets, using, name="live-event", using=using)
    return row


def _send_committed(pk: int, payload: dict[str, Any], groups: list[str], using: str) -> None:
    # On PostgreSQL the seq was stamped by the commit itself (see the migration).
    seq = LiveEvent.objects.using(using).filter(pk=pk).values_list("seq", flat=True).first()
    send_now({**payload, "id": seq}, groups)


def send_now(payload: dict[str, Any], groups: list[str]) -> None:
    """Hand `payload` to the channel layer for `groups`, without waiting for Redis.

    A failed send is logged and counted (`smartdesk_live_dropped{where="publish"}`), never
    raised: the event is in the live-event log, and each socket's heartbeat forwards what it
    missed. With Redis, one event loop per process (`_publisher`) holds the layer's
    connections and sends in the order given; a sync caller pays no thread or loop start-up
    per event. The in-memory layer of the embedded product lives in the web process's own
    loop, so it is sent to the old way.
    """
    layer = get_channel_layer()
    if layer is None or not groups:
        return
    if isinstance(layer, InMemoryChannelLayer):
        try:
            async_to_sync(_send_all)(layer, payload, groups)
        except Exception:
            _dropped(payload)
        return
    _publisher.submit(layer, payload, groups)


async def _send_all(layer: Any, payload: dict[str, Any], groups: list[str]) -> None:
    # The groups at once: one event's sends need no order among themselves, and the next
    # event waits for all of them, so events still go out in the order they were handed over.
    results = await asyncio.gather(
        *(
            layer.group_send(group, {"type": FORWARD_TYPE, "event": payload, "group": group})
            for group in groups
        ),
        return_exceptions=True,
    )
    for result in results:
        if isinstance(result, BaseException):
            raise result


def _dropped(payload: dict[str, Any]) -> None:
    LIVE_DROPPED.labels("publish").inc()
    logger.warning(
        "live event %s (%s) not sent; sockets will recover it from the log",
        payload.get("id"),
        payload.get("type"),
        exc_info=True,
    )


class _Publisher:
    """A daemon thread running one event loop that sends queued events in order."""

    # Sends waiting beyond this (Redis down for long) are dropped and counted: the log has them.
    max_backlog = 10_000
    send_timeout = 5.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[tuple[Any, dict[str, Any], list[str]]] | None = None

    def submit(self, layer: Any, payload: dict[str, Any], groups: list[str]) -> None:
        loop, queue = self._running()
        loop.call_soon_threadsafe(self._put, queue, (layer, payload, groups))

    def _put(self, queue: asyncio.Queue[Any], item: Any) -> None:
        try:
            queue.put_nowait(item)
        except asyncio.QueueFull:
            _dropped(item[1])

    def _running(self) -> tuple[asyncio.AbstractEventLoop, asyncio.Queue[Any]]:
        with self._lock:
            # A forked process (a Celery prefork child) has no thread of its parent's.
            if self._loop is None or self._pid != os.getpid():
                self._pid = os.getpid()
                ready = threading.Event()
                thread = threading.Thread(
                    target=self._run, args=(ready,), name="smartdesk-publisher", daemon=True
                )
                thread.start()
                ready.wait()
            return self._loop, self._queue  # type: ignore[return-value]

    def _run(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._queue = asyncio.Queue(maxsize=self.max_backlog)
        self._loop = loop
        ready.set()
        loop.run_until_complete(self._drain(self._queue))

    async def _drain(self, queue: asyncio.Queue[Any]) -> None:
        while True:
            layer, payload, groups = await queue.get()
            if isinstance(layer, threading.Event):  # a flush() marker
                layer.set()
                continue
            try:
                await asyncio.wait_for(_send_all(layer, payload, groups), self.send_timeout)
            except Exception:
                _dropped(payload)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every event handed over so far has been sent or dropped."""
        if self._loop is None or self._pid != os.getpid():
            return True
        done = threading.Event()
        # Items are taken in order, so the marker is reached after everything before it.
        self._loop.call_soon_threadsafe(self._put, self._queue, (done, {}, []))
        return done.wait(timeout)


_publisher = _Publisher()
# A forked child (a Celery prefork worker) starts with no publisher thread and a fresh lock.
os.register_at_fork(after_in_child=lambda: _publisher.__init__())
