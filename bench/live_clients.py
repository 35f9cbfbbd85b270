"""The socket side of bench/live.py, in a process of its own (asyncio + `websockets`), so the
clients never share a CPU budget with the load generator. Driven over stdin/stdout, one JSON
command per line, one JSON answer per line:

    {"op": "connect", "base": "ws://127.0.0.1:8000", "origin": "...", "sockets": [...]}
    {"op": "ping", "seconds": 25}        client pings at the browser's cadence (0: none)
    {"op": "reset"}                      forget the arrivals recorded so far
    {"op": "count"}                      how many events arrived (deduplicated)
    {"op": "dump", "path": "..."}        write arrivals: `socket message_id monotonic_time`
    {"op": "close"}                      close every socket
    {"op": "exit"}

Operator sockets follow the live protocol as a browser does: they keep the confirmed
watermark (`hello`/`heartbeat`/`resumed` last_id) and the ids seen above it, drop duplicate
ids, reconnect with backoff and jitter when the socket ends or stays silent for 2.5
heartbeats, and send `resume` on reconnect. Arrival times are `time.monotonic()`, the same
clock as the load generator's (one machine, CLOCK_MONOTONIC).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import sys
import time
from collections import Counter
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

MATCHED = "message.created"
PING = json.dumps({"type": "ping"})


class Hub:
    def __init__(self) -> None:
        self.ping = 0.0
        self.sockets: list[Socket] = []
        self.arrivals: list[tuple[int, int, float]] = []
        self.frames: Counter[str] = Counter()
        self.closes: Counter[str] = Counter()
        self.reconnects = 0
        self.closing = False


class Socket:
    def __init__(self, hub: Hub, spec: dict[str, Any], base: str, origin: str) -> None:
        self.hub = hub
        self.spec = spec
        self.idx: int = spec["idx"]
        self.uri = base + spec["path"]
        self.origin = spec.get("origin") or origin
        self.ws: ClientConnection | None = None
        self.got: set[int] = set()  # message ids already recorded on this socket
        self.watermark: int | None = None
        self.seen: set[int] = set()  # event ids above the watermark
        self.heartbeat: float | None = None
        self.ready = asyncio.get_running_loop().create_future()
        self.connect_seconds: float | None = None
        self.task: asyncio.Task[None] | None = None
        self.pinger: asyncio.Task[None] | None = None

    async def _open(self) -> ClientConnection:
        headers = {}
        if self.spec.get("cookie"):
            headers["Cookie"] = self.spec["cookie"]
        # A browser neither sends protocol-level pings nor caps frame size.
        return await connect(
            self.uri,
            origin=self.origin,  # type: ignore[arg-type]
            additional_headers=headers,
            ping_interval=None,
            max_size=None,
            open_timeout=60,
        )

    async def run(self) -> None:
        delay = 0.5
        first = True
        while not self.hub.closing:
            began = time.monotonic()
            try:
                self.ws = await self._open()
                if self.spec.get("token"):
                    await self.ws.send(json.dumps({"type": "auth", "token": self.spec["token"]}))
                elif not first and self.watermark is not None:
                    await self.ws.send(
                        json.dumps(
                            {"type": "resume", "last_id": self.watermark, "seen": sorted(self.seen)}
                        )
                    )
                if not self.spec.get("token") and not self.ready.done():
                    self.connect_seconds = time.monotonic() - began
                    self.ready.set_result(True)
                delay = 0.5
                await self._read(began)
            except (OSError, ConnectionClosed, TimeoutError) as exc:
                code = getattr(getattr(exc, "rcvd", None), "code", None)
                self.hub.closes[f"{self.spec['kind']}:{code or type(exc).__name__}"] += 1
            except Exception as exc:
                self.hub.closes[f"{self.spec['kind']}:{type(exc).__name__}"] += 1
            finally:
                self.ws = None
            if self.hub.closing:
                return
            if not self.ready.done():
                self.ready.set_result(False)
            first = False
            self.hub.reconnects += 1
            await asyncio.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 2, 30.0)

    async def _read(self, began: float) -> None:
        assert self.ws is not None
        while True:
            # Silent for 2.5 heartbeats: the socket is dead even if TCP has not noticed.
            async with asyncio.timeout(2.5 * self.heartbeat if self.heartbeat else None):
                raw = await self.ws.recv()
            now = time.monotonic()
            event = json.loads(raw)
            kind = event.get("type")
            self.hub.frames[kind] += 1
            seq = event.get("id")
            if isinstance(seq, int):
                if seq in self.seen or (self.watermark is not None and seq <= self.watermark):
                    self.hub.frames["duplicate"] += 1
                    continue
                self.seen.add(seq)
            if kind == MATCHED:
                mid = event.get("message_id")
                if isinstance(mid, int) and mid not in self.got:
                    self.got.add(mid)
                    self.hub.arrivals.append((self.idx, mid, now))
            elif kind in ("hello", "heartbeat", "resumed"):
                if kind == "hello" and isinstance(event.get("heartbeat"), (int, float)):
                    self.heartbeat = float(event["heartbeat"])
                last = event.get("last_id")
                if isinstance(last, int):
                    self.watermark = max(self.watermark or 0, last)
                    self.seen = {s for s in self.seen if s > self.watermark}
            elif kind == "ready" and not self.ready.done():
                self.connect_seconds = now - began
                self.ready.set_result(True)

    async def ping_loop(self) -> None:
        was_off = True
        while not self.hub.closing:
            interval = self.hub.ping
            if interval <= 0:
                was_off = True
                await asyncio.sleep(1.0)
                continue
            if was_off:  # a random phase, as browsers opened at different times would have
                was_off = False
                await asyncio.sleep(random.uniform(0, interval))
                continue
            if self.ws is not None:
                with contextlib.suppress(ConnectionClosed):
                    await self.ws.send(PING)
            await asyncio.sleep(interval)


async def _connect(hub: Hub, cmd: dict[str, Any]) -> dict[str, Any]:
    gate = asyncio.Semaphore(cmd.get("concurrency", 20))
    new: list[Socket] = []

    async def one(spec: dict[str, Any]) -> None:
        async with gate:
            sock = Socket(hub, spec, cmd["base"], cmd["origin"])
            new.append(sock)
            sock.task = asyncio.create_task(sock.run())
            sock.pinger = asyncio.create_task(sock.ping_loop())
            await sock.ready

    await asyncio.gather(*(one(spec) for spec in cmd["sockets"]))
    hub.sockets.extend(new)
    ok = [s.connect_seconds for s in new if s.connect_seconds is not None]
    return {"connected": len(ok), "failed": len(new) - len(ok), "connect_seconds": ok}


async def _close(hub: Hub) -> dict[str, Any]:
    hub.closing = True
    for sock in hub.sockets:
        if sock.pinger is not None:
            sock.pinger.cancel()
        if sock.ws is not None:
            with contextlib.suppress(Exception):  # closing anyway
                await sock.ws.close()
    for sock in hub.sockets:
        if sock.task is not None:
            sock.task.cancel()
    await asyncio.gather(*(s.task for s in hub.sockets if s.task), return_exceptions=True)
    await asyncio.gather(*(s.pinger for s in hub.sockets if s.pinger), return_exceptions=True)
    closed = len(hub.sockets)
    hub.sockets = []
    hub.closing = False
    return {"closed": closed}


async def _handle(hub: Hub, cmd: dict[str, Any]) -> dict[str, Any]:
    op = cmd["op"]
    if op == "connect":
        return await _connect(hub, cmd)
    if op == "ping":
        hub.ping = float(cmd["seconds"])
        return {"ping": hub.ping}
    if op == "reset":
        hub.arrivals = []
        hub.frames = Counter()
        hub.closes = Counter()
        hub.reconnects = 0
        for sock in hub.sockets:
            sock.got = set()
        return {"reset": True}
    if op == "count":
        return {"arrivals": len(hub.arrivals)}
    if op == "dump":
        with open(cmd["path"], "w") as out:
            for idx, mid, t in hub.arrivals:
                out.write(f"{idx} {mid} {t:.6f}\n")
        return {
            "arrivals": len(hub.arrivals),
            "frames": dict(hub.frames),
            "closes": dict(hub.closes),
            "reconnects": hub.reconnects,
            "open": sum(1 for s in hub.sockets if s.ws is not None),
        }
    if op == "close":
        return await _close(hub)
    if op == "cpu":
        times = os.times()
        return {"cpu": times.user + times.system}
    raise ValueError(f"unknown op {op!r}")


async def main() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=64 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    hub = Hub()
    while True:
        line = await reader.readline()
        if not line:
            break
        cmd = json.loads(line)
        if cmd["op"] == "exit":
            await _close(hub)
            break
        try:
            answer = await _handle(hub, cmd)
        except Exception as exc:
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main())
