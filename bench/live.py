"""The floor soak in the production shape, beside a bare Channels consumer in the same run.

    .venv/bin/python bench/live.py                 # 300 operators + 50 widgets, 20 msg/s, 60 s
    .venv/bin/python bench/live.py --smoke         # a minute; figures printed, not judged
    .venv/bin/python bench/live.py --web-workers 2 --layer core --profile

On loopback it starts its own redis-server on a free port and its own PostgreSQL database
(`bench_live_<pid>`, dropped at the end), migrates and seeds it (`bench/live_seed.py`: teams of
30 operators, one `api` inbox per team, a widget inbox with visitor sessions, customers;
sessions minted in the session store), then runs the product as deploy/Procfile does: uvicorn
serving `smartdesk.asgi:application` and a Celery worker, DEBUG off, the settings' own
defaults otherwise (`--layer` sets CHANNEL_LAYER_BACKEND). The baseline is `bench/live_bare.py`
under uvicorn the same way: a bare Channels consumer over the same Redis and the same layer
configuration (its own prefix), joining the same groups as the product's consumer.

For each of the two servers in turn, with the sockets held by separate client processes
(`bench/live_clients.py`, asyncio + websockets, speaking the live protocol as a browser does):

1. presence: half the operators connected, pinging at the browser's cadence (`--ping-seconds`),
   measured for `--presence-seconds` after `--presence-settle`; then all of them again:
   server CPU and its growth. The defaults hold steady state (after the sockets' first
   heartbeats) over whole rounds of periodic work (3 heartbeats; one presence write per
   operator);
2. idle: every operator and widget socket connected, no client traffic at all (the server's
   own heartbeats still flow), `--idle-seconds`;
3. fan-out: inbound messages at `--rate` for `--seconds`, open loop, through
   `POST /api/v1/inboxes/<key>/messages/` (Bearer inbox secret); the bare side gets the group
   sends one inbound message makes (`message.created` and `conversation.changed`, each to
   admins, conversation and team) from a publisher in this process at the same rate. Measured:
   send -> arrival of each `message.created` on every operator socket of the team that should
   hear it (matched by message id; one monotonic clock), frames dropped (not arrived within
   `--deadline` s after the last send), POST latency, CPU of the server, worker, PostgreSQL
   backends, Redis, the clients and this process, and the server's peak RSS.

Prints one table (figure, Smartdesk, bare, ratio, target) with the data sizes and the load
average at the start. `--profile` adds a py-spy profile of the web process during the fan-out
(py-spy installed in the virtualenv). Not a test: nothing is asserted, figures are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import live_harness as h  # noqa: E402
from bench import live_profile  # noqa: E402

TEXT = "Здравствуйте! Заказ №42 не пришёл, подскажите, пожалуйста 👋"


# --- the client processes --------------------------------------------------------------------


class Clients:
    """`n` socket-client processes; sockets are dealt out round-robin."""

    def __init__(self, n: int, log_dir: Path) -> None:
        self.procs = []
        for i in range(n):
            err = (log_dir / f"clients{i}.log").open("wb")
            self.procs.append(
                subprocess.Popen(  # noqa: S603 - our own interpreter and module
                    [sys.executable, str(ROOT / "bench" / "live_clients.py")],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=err,
                    cwd=ROOT,
                    text=True,
                )
            )

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def ask(self, cmd: dict[str, Any] | list[dict[str, Any]]) -> list[dict[str, Any]]:
        cmds = cmd if isinstance(cmd, list) else [cmd] * len(self.procs)
        for proc, c in zip(self.procs, cmds, strict=True):
            assert proc.stdin is not None
            proc.stdin.write(json.dumps(c) + "\n")
            proc.stdin.flush()
        answers = []
        for proc in self.procs:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError("a client process died (see clients*.log)")
            answer = json.loads(line)
            if "error" in answer:
                raise RuntimeError(f"client process: {answer['error']}")
            answers.append(answer)
        return answers

    def connect(self, base: str, origin: str, sockets: list[dict[str, Any]]) -> dict[str, Any]:
        shares: list[list[dict[str, Any]]] = [[] for _ in self.procs]
        for n, spec in enumerate(sockets):
            shares[n % len(self.procs)].append(spec)
        began = time.monotonic()
        answers = self.ask(
            [
                {"op": "connect", "base": base, "origin": origin, "sockets": share}
                for share in shares
            ]
        )
        seconds = [s for a in answers for s in a["connect_seconds"]]
        return {
            "connected": sum(a["connected"] for a in answers),
            "failed": sum(a["failed"] for a in answers),
            "seconds": sorted(seconds),
            "wall": time.monotonic() - began,
        }

    def cpu(self) -> float:
        return sum(a["cpu"] for a in self.ask({"op": "cpu"}))

    def count(self) -> int:
        return sum(a["arrivals"] for a in self.ask({"op": "count"}))

    def dump(self, log_dir: Path, tag: str) -> tuple[list[tuple[int, int, float]], dict[str, Any]]:
        paths = [log_dir / f"arrivals-{tag}-{i}.txt" for i in range(len(self.procs))]
        answers = self.ask([{"op": "dump", "path": str(p)} for p in paths])
        arrivals = []
        for p in paths:
            for line in p.read_text().splitlines():
                idx, mid, t = line.split()
                arrivals.append((int(idx), int(mid), float(t)))
        info: dict[str, Any] = {"frames": Counter(), "closes": Counter(), "reconnects": 0}
        for a in answers:
            info["frames"].update(a["frames"])
            info["closes"].update(a["closes"])
            info["reconnects"] += a["reconnects"]
        info["open"] = sum(a["open"] for a in answers)
        return arrivals, info

    def exit(self) -> None:
        for proc in self.procs:
            try:
                assert proc.stdin is not None
                proc.stdin.write(json.dumps({"op": "exit"}) + "\n")
                proc.stdin.flush()
            except (BrokenPipeError, OSError):
                pass
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


# --- measuring ------------------------------------------------------------------------------


@dataclass
class Watch:
    """CPU seconds of named process trees over a window, and their peak RSS (sampled)."""

    roots: dict[str, int | list[int]]
    clients: Clients
    database: str
    began: float = 0.0
    cpu0: dict[str, float] = field(default_factory=dict)
    peak_rss: dict[str, int] = field(default_factory=dict)
    # Backends come and go (pooled or not): their CPU is sampled while they live.
    pg_first: dict[int, float] = field(default_factory=dict)
    pg_last: dict[int, float] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _cpu(self) -> dict[str, float]:
        trees = h.process_trees(self.roots)
        out = {name: h.cpu_seconds(pids) for name, pids in trees.items()}
        out["clients"] = self.clients.cpu()
        times = os.times()
        out["loadgen"] = times.user + times.system
        out["machine"] = h.machine_busy()[0]
        return out

    def _sample_postgres(self, first: bool = False) -> None:
        for pid in h.postgres_backends(self.database):
            cpu = h.own_cpu_seconds(pid)
            if cpu is None:
                continue
            if first:
                self.pg_first[pid] = cpu
            self.pg_last[pid] = cpu

    def _sample(self) -> None:
        # Scanning /proc costs this process CPU (and the GIL the load generator needs): the
        # process trees are refreshed every 5 s, the PostgreSQL backends every second.
        trees: dict[str, list[int]] = {}
        tick = 0
        while not self._stop.wait(0.5):
            if tick % 10 == 0:
                trees = h.process_trees(self.roots)
            for name, pids in trees.items():
                self.peak_rss[name] = max(self.peak_rss.get(name, 0), h.rss_bytes(pids))
            if tick % 2 == 0:
                self._sample_postgres()
            tick += 1

    def start(self) -> Watch:
        self.pg_first, self.pg_last = {}, {}
        self._sample_postgres(first=True)
        self.cpu0 = self._cpu()
        self.began = time.monotonic()
        self._stop.clear()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> dict[str, Any]:
        cpu1 = self._cpu()
        wall = time.monotonic() - self.began
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample_postgres()
        pct = {name: 100 * (cpu1[name] - self.cpu0[name]) / wall for name in cpu1}
        pg = sum(last - self.pg_first.get(pid, 0.0) for pid, last in self.pg_last.items())
        pct["postgres"] = 100 * pg / wall
        return {"wall": wall, "cpu_pct": pct, "peak_rss": dict(self.peak_rss)}


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


# --- load --------------------------------------------------------------------------------


@dataclass
class Sent:
    n: int
    team: int
    t_send: float
    message_id: int | None = None
    post_seconds: float | None = None
    status: int | None = None


def _per_team(customers: int, teams: list[dict[str, Any]]) -> int:
    """How many customers of each team's inbox write (`_post_load` goes round them in turn)."""
    return max(1, customers // len(teams))


async def _post_load(
    base: str, teams: list[dict[str, Any]], rate: float, seconds: float, customers: int, tag: str
) -> list[Sent]:
    import httpx

    total = int(rate * seconds)
    sent: list[Sent] = []
    per_team = _per_team(customers, teams)

    async def one(client: httpx.AsyncClient, n: int) -> None:
        team = n % len(teams)
        customer = team + len(teams) * ((n // len(teams)) % per_team)
        record = Sent(n=n, team=team, t_send=time.monotonic())
        sent.append(record)
        try:
            response = await client.post(
                f"{base}/api/v1/inboxes/{teams[team]['inbox_key']}/messages/",
                json={
                    "customer": {"kind": "email", "value": f"customer{customer}@bench.example"},
                    "text": TEXT,
                    "external_id": f"bench-{tag}-{n}",
                },
                headers={"Authorization": f"Bearer {teams[team]['inbox_secret']}"},
            )
            record.status = response.status_code
            if response.status_code in (200, 201):
                record.message_id = response.json()["message_id"]
        except httpx.HTTPError as exc:
            record.status = -1
            print(f"  POST {n} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        record.post_seconds = time.monotonic() - record.t_send

    # Open loop: each message leaves at its time whether or not the previous ones came back
    # (a closed loop would slow down with the server and hide the queueing).
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        start = time.monotonic()
        tasks = []
        for n in range(total):
            delay = start + n / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(client, n)))
        await asyncio.gather(*tasks)
    return sent


def _layer(env: dict[str, str]) -> Any:
    """A channel layer built exactly as the product's settings build it, under `env`."""
    code = "import json; from bench.live_bare import layer_settings; print(json.dumps(layer_settings()))"
    out = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code], env=env, cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    config = json.loads(out.strip().splitlines()[-1])["default"]
    from django.utils.module_loading import import_string

    return import_string(config["BACKEND"])(**config.get("CONFIG", {}))


async def _publish_load(
    layer: Any, teams: list[dict[str, Any]], rate: float, seconds: float, first_id: int
) -> list[Sent]:
    """What one inbound message makes the product send: `message.created` and
    `conversation.changed`, each to the admins, the conversation's and the team's groups."""
    total = int(rate * seconds)
    sent: list[Sent] = []

    async def one(n: int) -> None:
        team = n % len(teams)
        mid = first_id + n
        record = Sent(n=n, team=team, t_send=time.monotonic(), message_id=mid)
        sent.append(record)
        groups = ["admins", f"conversation.{mid}", f"team.{teams[team]['team_id']}"]
        # Distinct, increasing event ids, as the live-event log's seq would be.
        created = {"type": "message.created", "id": 2 * n + 1, "conversation_id": mid}
        created["message_id"] = mid
        created.update(kind="inbound", delivery_status="")
        changed = {"type": "conversation.changed", "id": 2 * n + 2, "conversation_id": mid}
        changed.update(change="message", status="open", team_id=teams[team]["team_id"])
        for event in (created, changed):
            for group in groups:
                await layer.group_send(
                    group, {"type": "realtime.event", "event": event, "group": group}
                )
        record.status = 201
        record.post_seconds = time.monotonic() - record.t_send

    start = time.monotonic()
    tasks = []
    for n in range(total):
        delay = start + n / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(n)))
    await asyncio.gather(*tasks)
    return sent


# --- one server, all phases ----------------------------------------------------------------


@dataclass
class Target:
    name: str
    port: int
    proc: h.Proc
    bare: bool
    # The `ws` process of the split shape: sockets go to it, HTTP to `port`.
    ws_port: int | None = None
    ws_proc: h.Proc | None = None


def _specs(seed: dict[str, Any], target: Target, ops: list[dict[str, Any]]) -> list[dict]:
    cookie = seed["session_cookie"]
    out = []
    for op in ops:
        if target.bare:
            out.append(
                {
                    "kind": "operator",
                    "idx": op["idx"],
                    "path": "/ws/operator/?g=" + ",".join(op["groups"]),
                }
            )
        else:
            out.append(
                {
                    "kind": "operator",
                    "idx": op["idx"],
                    "path": "/ws/operator/",
                    "cookie": f"{cookie}={op['session']}",
                }
            )
    return out


def _widget_specs(seed: dict[str, Any], target: Target) -> list[dict]:
    key = seed["widget_inbox_key"]
    out = []
    for n, w in enumerate(seed["widgets"]):
        path = f"/ws/client/{key}/" + (f"?g={w['group']}" if target.bare else "")
        out.append(
            {
                "kind": "widget",
                "idx": 100_000 + n,
                "path": path,
                "token": w["token"],
                "origin": seed["widget_origin"],
            }
        )
    return out


def run_target(
    target: Target,
    args: argparse.Namespace,
    seed: dict[str, Any],
    clients: Clients,
    roots: dict[str, int],
    log_dir: Path,
    layer_env: dict[str, str],
) -> dict[str, Any]:
    result: dict[str, Any] = {}
    base_ws = f"ws://127.0.0.1:{target.ws_port or target.port}"
    origin = f"http://127.0.0.1:{target.port}"
    ops = seed["operators"]
    half = ops[: len(ops) // 2]
    rest = ops[len(ops) // 2 :]
    server = [target.proc.pid] + ([target.ws_proc.pid] if target.ws_proc else [])
    watch_roots: dict[str, int | list[int]] = {"server": server, **roots}
    if target.ws_proc is not None:
        watch_roots.update(web=target.proc.pid, ws=target.ws_proc.pid)

    def phase(label: str, seconds: float, settle: float | None = None) -> dict[str, Any]:
        time.sleep(args.settle if settle is None else settle)
        watch = Watch(watch_roots, clients, args.database).start()
        time.sleep(seconds)
        out = watch.stop()
        print(f"  {target.name} {label}: server {out['cpu_pct']['server']:.1f}% of a core")
        return out

    print(f"{target.name}: presence at {len(half)} operators")
    clients.ask({"op": "ping", "seconds": args.ping_seconds})
    result["connect_half"] = clients.connect(base_ws, origin, _specs(seed, target, half))
    result["presence_half"] = phase(
        f"presence {len(half)}", args.presence_seconds, args.presence_settle
    )
    result["connect_rest"] = clients.connect(base_ws, origin, _specs(seed, target, rest))
    result["presence_all"] = phase(
        f"presence {len(ops)}", args.presence_seconds, args.presence_settle
    )

    result["connect_widgets"] = clients.connect(base_ws, origin, _widget_specs(seed, target))
    clients.ask({"op": "ping", "seconds": 0})
    result["idle"] = phase(f"idle {len(ops) + len(seed['widgets'])}", args.idle_seconds)

    clients.ask({"op": "ping", "seconds": args.ping_seconds})
    time.sleep(args.settle)
    clients.ask({"op": "reset"})
    layer = _layer(layer_env) if target.bare else None
    print(f"{target.name}: fan-out at {args.rate:g}/s for {args.seconds:g} s")
    watch = Watch(watch_roots, clients, args.database).start()
    profiler = None
    children0 = os.times().children_user + os.times().children_system
    if args.profile and not target.bare:
        profiled = target.ws_proc if args.profile == "ws" and target.ws_proc else target.proc
        profiler = live_profile.start(
            profiled.pid,
            args.seconds,
            log_dir / "profile.txt",
            subprocesses=args.web_workers > 1,
        )
        if profiler is None:
            print("  --profile: py-spy is not installed (pip install py-spy into .venv)")
    if layer is not None:
        sent = asyncio.run(_publish_load(layer, seed["teams"], args.rate, args.seconds, 10**9))
    else:
        sent = asyncio.run(
            _post_load(
                f"http://127.0.0.1:{target.port}",
                seed["teams"],
                args.rate,
                args.seconds,
                args.customers,
                f"{os.getpid()}",
            )
        )
    load_end = time.monotonic()
    if profiler is not None:
        try:
            profiler.wait(args.seconds + 30)
        except subprocess.TimeoutExpired:
            profiler.kill()
        result["profile"] = live_profile.summary(log_dir / "profile.txt")
        spent = os.times().children_user + os.times().children_system - children0
        result["profile"].append(
            f"  (py-spy itself took {100 * spent / args.seconds:.1f}% of a core)"
        )
    # Drain: wait until every expected frame is in, or the deadline passes.
    members: dict[int, list[int]] = defaultdict(list)
    for op in ops:
        members[op["team"]].append(op["idx"])
    delivered = [s for s in sent if s.message_id is not None]
    expected = sum(len(members[s.team]) for s in delivered)
    deadline = load_end + args.deadline
    while time.monotonic() < deadline and clients.count() < expected:
        time.sleep(0.25)
    result["drain_seconds"] = time.monotonic() - load_end
    result["fanout"] = watch.stop()
    arrivals, info = clients.dump(log_dir, target.name)
    result["client_info"] = info

    at: dict[tuple[int, int], float] = {(idx, mid): t for idx, mid, t in arrivals}
    latencies = []
    after_answer = []  # how long after the POST's answer the socket heard it
    fifths: list[list[float]] = [[] for _ in range(5)]  # by when the message was sent
    # A customer's first message opens a conversation (assignment, classification, more
    # events); the load sends every customer's first message before anyone's second. (For
    # the bare consumer these are only the same positions in the run.)
    writing = len(seed["teams"]) * _per_team(args.customers, seed["teams"])
    opening: list[float] = []
    later: list[float] = []
    missing = 0
    total = max(1, len(sent))
    with (log_dir / f"sent-{target.name}.txt").open("w") as out:
        for s in delivered:
            out.write(f"{s.n} {s.team} {s.message_id} {s.t_send:.6f} {s.post_seconds:.6f}\n")
            for idx in members[s.team]:
                t = at.get((idx, s.message_id))
                if t is None:
                    missing += 1
                    continue
                latencies.append((t - s.t_send) * 1000)
                fifths[min(4, 5 * s.n // total)].append((t - s.t_send) * 1000)
                (opening if s.n < writing else later).append((t - s.t_send) * 1000)
                if s.post_seconds is not None:
                    after_answer.append((t - s.t_send - s.post_seconds) * 1000)
    result["fifths"] = [pct(f, 0.5) for f in fifths]
    result["opening"], result["later"] = opening, later
    result["after_answer"] = after_answer
    result["expected"] = expected
    result["latencies"] = latencies
    result["missing"] = missing
    result["sent"] = len(sent)
    result["statuses"] = Counter(s.status for s in sent)
    result["post_ms"] = [s.post_seconds * 1000 for s in sent if s.post_seconds is not None]
    result["send_span"] = load_end - min((s.t_send for s in sent), default=load_end)

    if not target.bare:
        result["metrics"] = _metrics(target.ws_port or target.port)
    clients.ask({"op": "close"})
    return result


METRICS_SHOWN = ("smartdesk_live_", "smartdesk_websocket_connections", "smartdesk_after_commit")


def _metrics(port: int) -> list[str]:
    """The live-delivery figures of every Smartdesk process (one multiprocess directory)."""
    import httpx

    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    except httpx.HTTPError as exc:
        return [f"/metrics: {exc}"]
    return [
        line
        for line in text.splitlines()
        if line.startswith(METRICS_SHOWN)
        and not line.split("{")[0].split(" ")[0].endswith("_created")
    ]


# --- report -------------------------------------------------------------------------------


def _fmt(value: float | None, unit: str = "", digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}{unit}"


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "-"
    return f"{a / b:.2f}x"


def _drop_pct(r: dict[str, Any]) -> float | None:
    return 100 * r["missing"] / r["expected"] if r["expected"] else None


def _accepted(r: dict[str, Any]) -> int:
    return sum(v for k, v in r["statuses"].items() if k in (200, 201))


def _never_connected(r: dict[str, Any]) -> int:
    return sum(r[k]["failed"] for k in ("connect_half", "connect_rest", "connect_widgets"))


def _connect_p95_ms(r: dict[str, Any]) -> float | None:
    p95 = pct(r["connect_half"]["seconds"], 0.95)
    return None if p95 is None else p95 * 1000


def _growth(r: dict[str, Any]) -> float | None:
    half = r["presence_half"]["cpu_pct"]["server"]
    return r["presence_all"]["cpu_pct"]["server"] / half if half else None


class Table:
    HEAD = ("figure", "Smartdesk", "bare", "ratio", "target")

    def __init__(self) -> None:
        self.rows: list[tuple[str, ...]] = []

    def row(
        self,
        name: str,
        a: float | None,
        b: float | None,
        unit: str = "",
        digits: int = 0,
        target: str = "",
        ratio: bool = True,
    ) -> None:
        self.rows.append(
            (
                name,
                _fmt(a, unit, digits),
                _fmt(b, unit, digits),
                _ratio(a, b) if ratio else "",
                target,
            )
        )

    def print(self) -> None:
        rows = [self.HEAD, *self.rows]
        widths = [max(len(r[i]) for r in rows) for i in range(5)]

        def line(r: tuple[str, ...]) -> str:
            cells = [
                c.ljust(widths[i]) if i in (0, 4) else c.rjust(widths[i]) for i, c in enumerate(r)
            ]
            return "  ".join(cells).rstrip()

        print(line(self.HEAD))
        print("  ".join("-" * w for w in widths))
        for r in self.rows:
            print(line(r))


def report(
    args: argparse.Namespace, setup: dict[str, Any], sd: dict[str, Any], bare: dict[str, Any]
) -> None:
    t = Table()
    for q, label in ((0.5, "p50"), (0.95, "p95"), (0.99, "p99")):
        target = "<= 150 ms and <= 2x bare" if label == "p95" else ""
        t.row(
            f"ingest -> socket {label}",
            pct(sd["latencies"], q),
            pct(bare["latencies"], q),
            " ms",
            1,
            target,
        )
    t.row(
        "ingest -> socket max",
        max(sd["latencies"], default=None),
        max(bare["latencies"], default=None),
        " ms",
    )
    t.row(
        "socket arrival minus POST answer p50",
        pct(sd["after_answer"], 0.5),
        pct(bare["after_answer"], 0.5),
        " ms",
        1,
        ratio=False,
    )
    t.row("frames expected", sd["expected"], bare["expected"], ratio=False)
    t.row("frames dropped", sd["missing"], bare["missing"], target="0", ratio=False)
    t.row("frames dropped %", _drop_pct(sd), _drop_pct(bare), "%", 2, ratio=False)
    t.row(
        "POST (bare: its group sends) p50",
        pct(sd["post_ms"], 0.5),
        pct(bare["post_ms"], 0.5),
        " ms",
        1,
    )
    t.row(
        "POST (bare: its group sends) p95",
        pct(sd["post_ms"], 0.95),
        pct(bare["post_ms"], 0.95),
        " ms",
        1,
    )
    t.row("messages sent", sd["sent"], bare["sent"], ratio=False)
    t.row("messages accepted", _accepted(sd), _accepted(bare), ratio=False)
    for name in (
        "server",
        "web",
        "ws",
        "worker",
        "background",
        "postgres",
        "redis",
        "clients",
        "loadgen",
        "machine",
    ):
        if name in ("web", "ws") and name not in sd["fanout"]["cpu_pct"]:
            continue
        a = sd["fanout"]["cpu_pct"].get(name)
        b = bare["fanout"]["cpu_pct"].get(name)
        t.row(f"fan-out CPU {name} (% of a core)", a, b, "%", 1, ratio=name == "server")
    mb = 1024 * 1024
    rss = (sd["fanout"]["peak_rss"]["server"] / mb, bare["fanout"]["peak_rss"]["server"] / mb)
    t.row("fan-out server RSS peak", *rss, " MB")
    n_ops = len(setup["seed"]["operators"])
    n_all = n_ops + len(setup["seed"]["widgets"])
    idle = (sd["idle"]["cpu_pct"]["server"], bare["idle"]["cpu_pct"]["server"])
    t.row(f"idle {n_all} sockets CPU server", *idle, "%", 2, "<= 10% of a core")
    idle_rss = (sd["idle"]["peak_rss"]["server"] / mb, bare["idle"]["peak_rss"]["server"] / mb)
    t.row(f"idle {n_all} sockets server RSS", *idle_rss, " MB")
    idle_clients = (sd["idle"]["cpu_pct"]["clients"], bare["idle"]["cpu_pct"]["clients"])
    t.row(f"idle {n_all} sockets CPU clients", *idle_clients, "%", 2, ratio=False)
    half = n_ops // 2
    for key, n in (("presence_half", half), ("presence_all", n_ops)):
        cpu = (sd[key]["cpu_pct"]["server"], bare[key]["cpu_pct"]["server"])
        t.row(f"presence {n} operators CPU server", *cpu, "%", 2)
    t.row(
        f"presence {half} -> {n_ops} growth", _growth(sd), _growth(bare), "x", 2, "<= 2.2x", False
    )
    t.row(
        f"connect p95 ({half} sockets at once)", _connect_p95_ms(sd), _connect_p95_ms(bare), " ms"
    )
    t.row("sockets that never connected", _never_connected(sd), _never_connected(bare), ratio=False)
    reconnects = (sd["client_info"]["reconnects"], bare["client_info"]["reconnects"])
    t.row("socket reconnects in fan-out", *reconnects, ratio=False)
    dups = (
        sd["client_info"]["frames"].get("duplicate", 0),
        bare["client_info"]["frames"].get("duplicate", 0),
    )
    t.row("duplicate frames dropped by clients", *dups, ratio=False)
    t.row(
        "drain after the last send",
        sd["drain_seconds"],
        bare["drain_seconds"],
        " s",
        1,
        ratio=False,
    )
    print()
    t.print()
    print(
        "bare = bench/live_bare.py (a bare Channels consumer, same Redis, same layer settings, "
        "same groups); ratio = Smartdesk / bare; CPU in % of one core, over each window; "
        "'machine' = all processes on the box, others' included"
    )
    print()
    for name, r in (("Smartdesk", sd), ("bare", bare)):
        fifths = " / ".join(_fmt(v, "", 0) for v in r["fifths"])
        print(f"ingest -> socket p50 by fifth of the run, ms ({name}): {fifths}")
    for name, r in (("Smartdesk", sd), ("bare", bare)):
        split = " / ".join(
            f"{_fmt(pct(r[part], 0.5), '', 0)}, {_fmt(pct(r[part], 0.95), '', 0)}"
            for part in ("opening", "later")
        )
        print(
            f"ingest -> socket p50, p95 of a conversation's first message / of the later "
            f"ones, ms ({name}): {split}"
        )
    print("HTTP statuses (Smartdesk):", dict(sd["statuses"]))
    print("frames by type (Smartdesk):", dict(sd["client_info"]["frames"]))
    print("frames by type (bare):", dict(bare["client_info"]["frames"]))
    if sd["client_info"]["closes"] or bare["client_info"]["closes"]:
        print("socket ends in fan-out (Smartdesk):", dict(sd["client_info"]["closes"]))
        print("socket ends in fan-out (bare):", dict(bare["client_info"]["closes"]))
    print("'over capacity' lines in the web log:", setup["over_capacity"])
    if sd.get("metrics"):
        print("web /metrics after the fan-out:", "; ".join(sd["metrics"]))
    for line in sd.get("profile", []):
        print(line)
    if args.smoke:
        print("--smoke: figures printed, not judged")
    else:
        print("targets:", "; ".join(_verdict(sd, bare)))


def _verdict(sd: dict[str, Any], bare: dict[str, Any]) -> list[str]:
    p95, p95_bare = pct(sd["latencies"], 0.95), pct(bare["latencies"], 0.95)
    checks = {
        "p95 <= 150 ms": p95 is not None and p95 <= 150,
        "p95 <= 2x bare": p95 is not None and p95_bare is not None and p95 <= 2 * p95_bare,
        "0 dropped": sd["missing"] == 0 and sd["expected"] > 0,
        "idle <= 10%": sd["idle"]["cpu_pct"]["server"] <= 10,
        "presence growth <= 2.2x": (_growth(sd) or 99) <= 2.2,
    }
    return [f"{name} {'met' if ok else 'MISSED'}" for name, ok in checks.items()]


# --- main -------------------------------------------------------------------------------------


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--operators", type=int, default=300, help="operator sockets (users)")
    parser.add_argument("--widgets", type=int, default=50, help="widget visitor sockets")
    parser.add_argument("--teams", type=int, default=None, help="default: one per 30 operators")
    parser.add_argument(
        "--customers",
        type=int,
        default=None,
        help="default: rate*seconds/4 (about 4 messages per conversation)",
    )
    parser.add_argument("--rate", type=float, default=20.0, help="inbound messages per second")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the fan-out phase")
    parser.add_argument("--idle-seconds", type=float, default=60.0, help="idle window")
    parser.add_argument(
        "--presence-seconds",
        type=float,
        default=60.0,
        help="each presence window: a whole number of heartbeats (20 s) and one presence write "
        "per operator (60 s), so both windows hold the same rounds of periodic work",
    )
    parser.add_argument(
        "--presence-settle",
        type=float,
        default=45.0,
        help="pause after connecting before a presence window: past the sockets' first two "
        "heartbeats (the first catch-up), so the window holds steady state, not the connect",
    )
    parser.add_argument(
        "--ping-seconds",
        type=float,
        default=25.0,
        help="client ping interval (the browser's PING_MS)",
    )
    parser.add_argument(
        "--deadline",
        type=float,
        default=30.0,
        help="drain time after the last send; later frames count as dropped",
    )
    parser.add_argument(
        "--settle", type=float, default=3.0, help="pause before each measured window"
    )
    parser.add_argument("--web-workers", type=int, default=1, help="uvicorn --workers")
    parser.add_argument(
        "--shape",
        choices=("split", "single"),
        default="split",
        help="split: HTTP on `web`, sockets on `ws` (deploy/Procfile); single: one uvicorn for both",
    )
    parser.add_argument(
        "--worker-concurrency", type=int, default=2, help="celery worker --concurrency"
    )
    parser.add_argument(
        "--layer",
        choices=("core", "pubsub"),
        default="pubsub",
        help="CHANNEL_LAYER_BACKEND: pubsub (the product's default) or channels_redis core (lists)",
    )
    parser.add_argument("--client-procs", type=int, default=2, help="processes holding the sockets")
    parser.add_argument(
        "--profile",
        nargs="?",
        const="ws",
        choices=("web", "ws"),
        help="py-spy a server process during the fan-out (split shape: `ws` by default; "
        "the single shape has only `web`)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the logs directory")
    parser.add_argument(
        "--smoke", action="store_true", help="10 operators, 2 widgets, 5 msg/s for 5 s"
    )
    args = parser.parse_args()
    if args.smoke:
        args.operators, args.widgets, args.rate, args.seconds = 10, 2, 5.0, 5.0
        args.idle_seconds, args.presence_seconds, args.deadline, args.settle = 2.0, 2.0, 10.0, 0.5
        args.presence_settle = 0.5
        args.ping_seconds = min(args.ping_seconds, 2.0)
    if args.teams is None:
        args.teams = max(1, args.operators // 30)
    if args.customers is None:
        args.customers = max(args.teams, int(args.rate * args.seconds / 4))
    return args


def main() -> None:
    args = _parse()
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()  # noqa: S607
    print(f"bench/live.py  {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}")
    print(f"load at start: {uptime}  ({os.cpu_count()} cores)")
    began = time.monotonic()
    log_dir = Path(tempfile.mkdtemp(prefix="bench-live-"))
    dbname = args.database = f"bench_live_{os.getpid()}"
    redis = h.RedisServer(log_dir)
    procs: list[h.Proc] = []
    clients: Clients | None = None
    created_db = False
    try:
        redis.start()
        db_url = h.system_database(dbname)
        created_db = True
        env = h.base_env(
            db_url,
            redis.url,
            CHANNEL_LAYER_BACKEND=args.layer,
            CHANNEL_LAYER_PREFIX="bench-live",
            CACHE_KEY_PREFIX="bench-live",
            WORKER_CONCURRENCY=str(args.worker_concurrency),
            STATIC_ROOT=str(log_dir / "static"),
            # Every Smartdesk process writes its metric values here, as the processes of one
            # pod do: /metrics of any of them counts the fleet (drops at publish happen in
            # web and the worker, not in ws).
            PROMETHEUS_MULTIPROC_DIR=str(log_dir / "metrics"),
        )
        (log_dir / "static").mkdir()
        (log_dir / "metrics").mkdir()
        # Migrating and seeding are not the fleet: their counts stay out of its metrics.
        setup_env = {k: v for k, v in env.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--verbosity", "0"],
            env=setup_env,
            cwd=ROOT,
            check=True,
        )
        web_port, bare_port = h.free_port(), h.free_port()
        bare_env = {**env, "CHANNEL_LAYER_PREFIX": "bench-bare"}
        bare_env.pop("PROMETHEUS_MULTIPROC_DIR")
        # Started while the seed runs, waited for together: start-up is most of a smoke run.
        web = h.start_web(env, web_port, log_dir, workers=args.web_workers)
        ws = ws_port = None
        if args.shape == "split":
            ws_port = h.free_port()
            ws = h.start_web(env, ws_port, log_dir, workers=args.web_workers, name="ws")
            procs.append(ws)
        # As deploy/Procfile: the default queue's worker, and the background queue's (slow
        # work: summaries, exports) at a lower CPU priority.
        worker = h.start_worker(env, log_dir, queues="celery")
        background = h.start_worker(
            env, log_dir, queues="background", name="background", concurrency="2", nice=10
        )
        bare_proc = h.start_web(
            bare_env, bare_port, log_dir, app="bench.live_bare:application",
            workers=args.web_workers, name="bare",
        )  # fmt: skip
        procs += [web, worker, background, bare_proc]
        clients = Clients(args.client_procs, log_dir)
        seeded = subprocess.run(  # noqa: S603
            [
                sys.executable, "-m", "bench.live_seed",
                "--operators", str(args.operators), "--teams", str(args.teams),
                "--widgets", str(args.widgets), "--customers", str(args.customers),
            ],
            env=setup_env, cwd=ROOT, check=False, capture_output=True, text=True,
        )  # fmt: skip
        if seeded.returncode != 0:
            raise RuntimeError(f"seeding failed:\n{seeded.stderr[-4000:]}")
        seed = json.loads(seeded.stdout.strip().splitlines()[-1])
        sizes = ", ".join(f"{k} {v}" for k, v in seed["sizes"].items())
        per_team = args.operators // args.teams
        print(
            f"data: {sizes}; {args.teams} teams of ~{per_team} operators, one api inbox each; "
            f"{args.widgets} widget visitors"
        )
        print(
            f"shape: {args.shape} (HTTP and sockets "
            f"{'in separate uvicorns' if ws else 'in one uvicorn'}), "
            f"uvicorn smartdesk.asgi:application --workers {args.web_workers}, celery worker "
            f"--concurrency {args.worker_concurrency} and background worker (nice 10) "
            f"--concurrency 2, DEBUG off, layer {seed['channel_layer']}, "
            f"server heartbeat {seed['heartbeat']} s, database connections: {seed['db']}; "
            f"private redis {redis.url}, database {dbname}"
        )
        print(
            f"load: {args.rate:g} msg/s for {args.seconds:g} s ({int(args.rate * args.seconds)} "
            f"messages, each heard by ~{per_team} operator sockets); client pings every "
            f"{args.ping_seconds:g} s; {args.client_procs} client processes; logs in {log_dir}"
        )
        h.wait_web(web, web_port)
        if ws is not None:
            h.wait_web(ws, ws_port)
        h.wait_web(bare_proc, bare_port, health=None)
        h.wait_worker(worker)
        h.wait_worker(background)
        _warm_up(web_port, seed)
        print(f"set-up took {time.monotonic() - began:.0f} s")
        assert redis.proc is not None
        roots = {"worker": worker.pid, "background": background.pid, "redis": redis.proc.pid}
        sd = run_target(
            Target("Smartdesk", web_port, web, False, ws_port, ws),
            args,
            seed,
            clients,
            roots,
            log_dir,
            env,
        )
        bare = run_target(
            Target("bare", bare_port, bare_proc, True),
            args,
            seed,
            clients,
            roots,
            log_dir,
            bare_env,
        )
        over = sum(
            line.count("over capacity")
            for proc in (web, ws)
            if proc is not None
            for line in proc.log_text().splitlines()
        )
        report(args, {"seed": seed, "over_capacity": over}, sd, bare)
    finally:
        if clients is not None:
            clients.exit()
        for proc in procs:
            proc.stop_soon()
        for proc in reversed(procs):
            proc.terminate()
        redis.stop()
        if created_db:
            h.drop_database(dbname)
        if not args.keep:
            shutil.rmtree(log_dir, ignore_errors=True)
        print(f"done in {time.monotonic() - began:.0f} s")


def _warm_up(port: int, seed: dict[str, Any]) -> None:
    """One request per inbox before anything is measured: Django's lazy set-up, the pool."""
    import httpx

    with httpx.Client(timeout=60) as client:
        for n, team in enumerate(seed["teams"]):
            response = client.post(
                f"http://127.0.0.1:{port}/api/v1/inboxes/{team['inbox_key']}/messages/",
                json={
                    "customer": {"kind": "email", "value": f"warmup{n}@bench.example"},
                    "text": "warm-up",
                    "external_id": f"warmup-{n}",
                },
                headers={"Authorization": f"Bearer {team['inbox_secret']}"},
            )
            if response.status_code not in (200, 201):
                raise RuntimeError(
                    f"warm-up POST answered {response.status_code}: {response.text[:500]}"
                )


if __name__ == "__main__":
    main()
