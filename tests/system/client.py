"""Clients of the running system: an operator's browser session over HTTP, and `LiveClient`,
the operator socket following the client rules of the live protocol (v2).

Client rules implemented here (the protocol, as the lead specifies it):
- the confirmed watermark W starts at the id the page embedded (`last_id=`), or hello's
  `last_id` when none was given; `heartbeat` and `resumed` frames raise it to their `last_id`;
- the ids received above W are kept (`seen`) and trimmed as W advances;
- on every (re)connect the client sends `resume` with W and seen, and subscribes again;
- more than 2.5 heartbeat periods without any frame: close and reconnect (backoff with jitter);
- an id received twice is dropped, but counted: the server must never send one twice.

`LiveClient` runs on an asyncio loop in a background thread (`LiveLoop`), so that the tests,
the fake Telegram server and psycopg stay plain synchronous code; its state is read through
lock-protected snapshots.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import socket
import struct
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from tests.system.harness import DEMO_PASSWORD

T = TypeVar("T")

STALE_HEARTBEATS = 2.5


# --- HTTP: an operator's browser session ----------------------------------------------------


def login(base_url: str, username: str, password: str = DEMO_PASSWORD) -> dict[str, str]:
    """Log in through /accounts/login/ (CSRF and all) and return the session cookies."""
    with httpx.Client(base_url=base_url, timeout=15, follow_redirects=False) as http:
        page = http.get("/accounts/login/")
        assert page.status_code == 200, f"login page: {page.status_code} {page.text[:500]}"
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        token = match.group(1) if match else http.cookies.get("csrftoken", "")
        answer = http.post(
            "/accounts/login/",
            data={"username": username, "password": password, "csrfmiddlewaretoken": token},
            headers={"Referer": f"{base_url}/accounts/login/"},
        )
        assert answer.status_code == 302, (
            f"login as {username}: {answer.status_code} {answer.text[:500]}"
        )
        cookies = dict(http.cookies.items())
    assert "sessionid" in cookies, f"no session cookie after logging in as {username}"
    return cookies


def ws_url(base_url: str) -> str:
    return base_url.replace("http://", "ws://", 1) + "/ws/operator/"


# --- the operator socket ------------------------------------------------------------------


@dataclass
class Closed:
    at: float
    code: int | None
    reason: str


class LiveClient:
    """One operator page's socket, reconnecting and resuming by the protocol's client rules."""

    def __init__(
        self,
        base_url: str,
        cookies: dict[str, str],
        *,
        last_id: int | None = None,
        name: str = "client",
        max_backoff: float = 5.0,
        default_heartbeat: float | None = None,
    ) -> None:
        self.base_url = base_url
        self.url = ws_url(base_url)
        self.cookies = cookies
        self.name = name
        self.max_backoff = max_backoff
        self.lock = threading.Lock()
        # Protocol state.
        self.watermark: int | None = last_id
        self.seen: set[int] = set()
        self.heartbeat: float | None = default_heartbeat
        self.subscriptions: set[int] = set()
        # What happened, for the assertions.
        self.ids: list[int] = []
        self.id_set: set[int] = set()
        self.duplicates: list[int] = []
        self.frames: list[dict[str, Any]] = []
        self.connections = 0
        self.closes: list[Closed] = []
        self.resyncs = 0
        self.errors: list[str] = []
        self.last_frame_at = time.monotonic()
        self._ws: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._stopping = False

    # -- snapshots for the test thread --

    def received(self) -> set[int]:
        with self.lock:
            return set(self.id_set)

    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [f for f in self.frames if isinstance(f.get("id"), int)]

    def frames_of(self, kind: str) -> list[dict[str, Any]]:
        with self.lock:
            return [f for f in self.frames if f.get("type") == kind]

    def summary(self) -> str:
        with self.lock:
            closes = [(round(c.at, 1), c.code, c.reason) for c in self.closes[-5:]]
            return (
                f"{self.name}: {len(self.id_set)} ids, {len(self.duplicates)} duplicates, "
                f"{self.connections} connections, W={self.watermark}, seen={len(self.seen)}, "
                f"resyncs={self.resyncs}, last closes={closes}, errors={self.errors[-3:]}"
            )

    # -- lifecycle (on the loop) --

    async def start(self, timeout: float = 20) -> LiveClient:
        self._task = asyncio.get_running_loop().create_task(self._run())
        try:
            await asyncio.wait_for(self._connected.wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"{self.name} could not connect: {self.summary()}") from None
        return self

    async def close(self) -> None:
        self._stopping = True
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def send(self, frame: dict[str, Any]) -> None:
        if self._ws is not None:
            with contextlib.suppress(ConnectionClosed):
                await self._ws.send(json.dumps(frame))

    async def subscribe(self, conversation_id: int) -> None:
        self.subscriptions.add(conversation_id)
        await self.send({"type": "subscribe", "conversation_id": conversation_id})

    # -- the connection loop --

    async def _run(self) -> None:
        failures = 0
        while not self._stopping:
            try:
                await self._connection()
                failures = 0
            except (
                OSError,
                InvalidHandshake,
                InvalidStatus,
                TimeoutError,
                ConnectionClosed,
            ) as problem:
                with self.lock:
                    self.errors.append(f"connect: {problem!r}")
                failures += 1
            if self._stopping:
                return
            # Exponential backoff with jitter, capped.
            delay = min(self.max_backoff, 0.25 * 2 ** min(failures, 8))
            await asyncio.sleep(delay / 2 + random.uniform(0, delay / 2))

    async def _connection(self) -> None:
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        async with connect(
            self.url,
            additional_headers={"Cookie": cookie},
            origin=self.base_url,  # type: ignore[arg-type]
            open_timeout=10,
            ping_interval=None,  # no keep-alive of our own: the server's heartbeat is the test
            close_timeout=2,
            max_size=None,
        ) as ws:
            self._ws = ws
            with self.lock:
                self.connections += 1
                self.last_frame_at = time.monotonic()
            try:
                # A server that accepts and closes at once (1013: Redis away) ends this
                # connection here; the loop reconnects.
                if self.watermark is not None:
                    await self._resume()
                for pk in sorted(self.subscriptions):
                    await ws.send(json.dumps({"type": "subscribe", "conversation_id": pk}))
                self._connected.set()
                while True:
                    raw = await self._next(ws)
                    if raw is None:  # stale: no frame for 2.5 heartbeats
                        with self.lock:
                            self.errors.append("stale heartbeat: reconnecting")
                        await ws.close(code=4000, reason="stale")
                        break
                    await self._handle(json.loads(raw))
            except ConnectionClosed:
                pass
            finally:
                self._ws = None
                with self.lock:
                    self.closes.append(
                        Closed(
                            time.monotonic(),
                            ws.close_code,
                            ws.close_reason or "",
                        )
                    )

    async def _next(self, ws: ClientConnection) -> str | bytes | None:
        while True:
            with self.lock:
                period = self.heartbeat
                quiet = time.monotonic() - self.last_frame_at
            if period is None:
                return await ws.recv()
            remaining = STALE_HEARTBEATS * period - quiet
            if remaining <= 0:
                return None
            try:
                return await asyncio.wait_for(ws.recv(), remaining)
            except TimeoutError:
                continue

    async def _resume(self) -> None:
        with self.lock:
            frame = {"type": "resume", "last_id": self.watermark, "seen": sorted(self.seen)}
        assert self._ws is not None
        await self._ws.send(json.dumps(frame))

    def _advance(self, last_id: Any) -> None:
        if isinstance(last_id, int) and not isinstance(last_id, bool):
            self.watermark = last_id if self.watermark is None else max(self.watermark, last_id)
            self.seen = {s for s in self.seen if s > self.watermark}

    async def _handle(self, frame: dict[str, Any]) -> None:
        with self.lock:
            self.last_frame_at = time.monotonic()
            self.frames.append(frame)
            kind = frame.get("type")
            seq = frame.get("id")
            if isinstance(seq, int) and not isinstance(seq, bool):
                if seq in self.id_set:
                    self.duplicates.append(seq)
                    return
                self.id_set.add(seq)
                self.ids.append(seq)
                if self.watermark is None or seq > self.watermark:
                    self.seen.add(seq)
                return
            if kind == "hello":
                heartbeat = frame.get("heartbeat")
                if isinstance(heartbeat, int | float) and heartbeat > 0:
                    self.heartbeat = float(heartbeat)
                if self.watermark is None:
                    # No page render to start from: everything up to now is "the page".
                    self._advance(frame.get("last_id"))
            elif kind in ("heartbeat", "resumed"):
                self._advance(frame.get("last_id"))
            elif kind == "resync":
                self.resyncs += 1
            elif kind == "error":
                self.errors.append(json.dumps(frame))


async def open_silent(base_url: str, cookies: dict[str, str]) -> ClientConnection:
    """An operator socket that never reads: once its small queue is full the client stops
    reading from TCP, so the server's sends back up (a browser tab frozen or on a dying
    network). Abort it with `abort()`."""
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    return await connect(
        ws_url(base_url),
        additional_headers={"Cookie": cookie},
        origin=base_url,  # type: ignore[arg-type]
        open_timeout=10,
        ping_interval=None,
        max_queue=1,
        max_size=None,
    )


async def vanish(ws: ClientConnection, *, resume_from: int | None, reset: bool) -> None:
    """(On the loop.) The client goes away without a close frame, optionally right after
    asking for a replay (so that the server is busy answering it when the socket goes):
    `reset` drops the connection with a TCP reset, as a killed browser or a dead network
    path does; otherwise the TCP connection is closed (FIN) with no WebSocket close frame."""
    if resume_from is not None:
        await ws.send(json.dumps({"type": "resume", "last_id": resume_from, "seen": []}))
    if reset:
        sock = ws.transport.get_extra_info("socket")
        if sock is not None:
            # SO_LINGER with a zero timeout makes close() send a reset.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        ws.transport.abort()
    else:
        ws.transport.close()


class LiveLoop:
    """An asyncio loop in a daemon thread that runs LiveClients for synchronous tests."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.clients: list[LiveClient] = []

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def connect(self, base_url: str, cookies: dict[str, str], **options: Any) -> LiveClient:
        client = LiveClient(base_url, cookies, **options)
        self.clients.append(client)
        return self.run(client.start())

    def subscribe(self, client: LiveClient, conversation_id: int) -> None:
        self.run(client.subscribe(conversation_id))

    def close(self) -> None:
        for client in self.clients:
            with contextlib.suppress(Exception):
                self.run(client.close(), timeout=10)
        self.clients.clear()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        if not self.loop.is_running():
            self.loop.close()

    def __enter__(self) -> LiveLoop:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
