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
# What the publisher sends: a group's events in order, each handled as a `FORWARD_TYPE`.
BATCH_TYPE = "realtime.batch"
# The most event ids one query after a commit asks for.
SEQ_CHUNK = 5000


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
    _state(using)["pending"].append(row.pk)
    after_commit(_send_committed, row.pk, payload, targets, using, name="live-event", using=using)
    return row


def _state(using: str) -> dict[str, Any]:
    """The events this connection has logged whose seq is not read yet, and the seqs read.

    Kept on the connection: it lives as long as the transactions it describes, in the thread
    (or task) that owns them."""
    connection = connections[using]
    state = getattr(connection, "_smartdesk_live", None)
    if state is None:
        state = connection._smartdesk_live = {"pending": [], "seqs": {}}
    return state


def _committed_seq(pk: int, using: str) -> int | None:
    """The seq the commit stamped on event `pk` (see the migration).

    A transaction's hooks run one after the other right after its commit, so the first of
    them reads the seqs of every event logged since the last read in one query, and the
    others find theirs already read: one query per commit, not one per event. Events of a
    rolled-back savepoint are among those asked for and simply not found."""
    state = _state(using)
    seqs: dict[int, int | None] = state["seqs"]
    if pk not in seqs:
        wanted = {*state["pending"], pk}
        state["pending"].clear()
        seqs.clear()
        ordered = sorted(wanted)
        for start in range(0, len(ordered), SEQ_CHUNK):  # a bulk transaction: bounded queries
            chunk = ordered[start : start + SEQ_CHUNK]
            seqs.update(
                LiveEvent.objects.using(using).filter(pk__in=chunk).values_list("pk", "seq")
            )
    return seqs.pop(pk, None)


def _send_committed(pk: int, payload: dict[str, Any], groups: list[str], using: str) -> None:
    send_now({**payload, "id": _committed_seq(pk, using)}, groups)


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
            async_to_sync(_send_batch)(layer, [(payload, groups)])
        except Exception:
            _dropped(payload)
        return
    _publisher.submit(layer, payload, groups)


async def _send_batch(
    layer: Any, items: list[tuple[dict[str, Any], list[str]]], timeout: float | None = None
) -> None:
    """Send events handed over together: one layer message per group, carrying that group's
    events in the order given (`BATCH_TYPE`).

    A group send costs the same whatever it carries (with the list-based layer, four Redis
    round trips and a copy per member), so a process publishing faster than one send per
    event can go keeps up by sending more per message, not by falling behind. The groups go
    at once: they need no order among themselves, and the next batch waits for all of them,
    for at most `timeout` seconds. A group whose send fails or is still under way then has its
    events counted as dropped (the log has them); an event every group got is not."""
    by_group: dict[str, list[dict[str, Any]]] = {}
    for payload, groups in items:
        for group in groups:
            by_group.setdefault(group, []).append(payload)
    if not by_group:
        return
    sends = {
        group: asyncio.ensure_future(
            layer.group_send(group, {"type": BATCH_TYPE, "events": events, "group": group})
        )
        for group, events in by_group.items()
    }
    try:
        await asyncio.wait(sends.values(), timeout=timeout)
    finally:  # past the timeout, or this task cancelled: no send is left running
        for send in sends.values():
            send.cancel()
        await asyncio.gather(*sends.values(), return_exceptions=True)
    lost: dict[int, dict[str, Any]] = {}
    for group, send in sends.items():
        if send.cancelled():
            failure: BaseException | None = TimeoutError(f"not sent within {timeout} s")
        else:
            failure = send.exception()
        if failure is not None:
            for payload in by_group[group]:
                lost.setdefault(id(payload), payload)
            logger.warning("live events for %s not sent: %r", group, failure)
    for payload in lost.values():
        _dropped(payload)


def _dropped(payload: dict[str, Any]) -> None:
    LIVE_DROPPED.labels("publish").inc()
    logger.warning(
        "live event %s (%s) not sent; sockets will recover it from the log",
        payload.get("id"),
        payload.get("type"),
    )


class _Publisher:
    """A daemon thread running one event loop that sends queued events in order, in batches
    of what queued up while the previous batch was being sent."""

    # Sends waiting beyond this (Redis down for long) are dropped and counted: the log has them.
    max_backlog = 10_000
    # The most events one batch carries.
    max_batch = 200
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
            items = [await queue.get()]
            while len(items) < self.max_batch and not queue.empty():
                items.append(queue.get_nowait())
            batch: list[tuple[dict[str, Any], list[str]]] = []
            layer = None
            for item in items:
                if isinstance(item[0], threading.Event):  # a flush() marker
                    await self._send(layer, batch)
                    batch = []
                    item[0].set()
                    continue
                if layer is not None and item[0] is not layer:  # settings changed (tests)
                    await self._send(layer, batch)
                    batch = []
                layer = item[0]
                batch.append((item[1], item[2]))
            await self._send(layer, batch)

    async def _send(self, layer: Any, batch: list[tuple[dict[str, Any], list[str]]]) -> None:
        if not batch:
            return
        try:
            await _send_batch(layer, batch, self.send_timeout)
        except Exception:  # not a send's own failure (counted there): nothing is known sent
            logger.exception("live events not sent")
            for payload, _groups in batch:
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
