"""The few process helpers bench/live.py needs: a private redis-server, a private PostgreSQL
database, subprocesses with log files, and CPU/RSS read from /proc.

The API follows the system-test harness (`tests/system/harness.py`: `free_port`, `RedisServer`,
`system_database`, `Proc`, `base_env`, `wait_until`); `RedisServer` is that harness's own, the
rest is kept here, where the bench's process accounting needs it. Not used by the product.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from tests.system import harness as system_harness

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred: Callable[[], Any], timeout: float, what: str, every: float = 0.1) -> Any:
    """Poll `pred` until it returns something truthy; fail with `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Proc:
    """A subprocess in its own process group, its output in a log file."""

    def __init__(
        self, name: str, argv: list[str], env: dict[str, str], log_dir: Path, cwd: Path = ROOT
    ) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log: IO[bytes] = self.log_path.open("wb")
        self.popen = subprocess.Popen(  # noqa: S603 - our own commands
            argv,
            env=env,
            cwd=cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_text(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop_soon(self) -> None:
        """SIGTERM without waiting (several processes stop in parallel)."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)

    def terminate(self, timeout: float = 10) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill9()
        self._log.close()

    def kill9(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait()


class RedisServer(system_harness.RedisServer):
    """The system tests' private redis-server (no persistence, a free loopback port), its log
    in the bench's `log_dir` and its connection limit raised for the bench's many sockets."""

    def __init__(self, log_dir: Path) -> None:
        super().__init__(logs=log_dir, maxclients=10000)


def system_database(name: str) -> str:
    """Create a fresh database `name` (dropping any leftover) and return its URL."""
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def base_env(database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    """The production shape: PostgreSQL + Redis, DEBUG off, quiet logs."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DJANGO_SETTINGS_MODULE": "smartdesk.settings",
        "SECRET_KEY": "bench-live-only-secret-key-bench-live-only-secret",
        "DEBUG": "false",
        "SECURE_COOKIES": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "STATIC_ROOT": "/tmp/smartdesk-bench-live-static",
        "LOG_LEVEL": "INFO",
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
    }
    env.update(extra)
    return env


def bin_path(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def start_web(
    env: dict[str, str],
    port: int,
    log_dir: Path,
    app: str = "smartdesk.asgi:application",
    workers: int = 1,
    name: str = "web",
) -> Proc:
    """uvicorn as deploy/Procfile runs it (plus `--workers` when asked)."""
    argv = [
        bin_path("uvicorn"),
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--lifespan",
        "off",
        "--ws-per-message-deflate",
        "false",
    ]
    if workers > 1:
        argv += ["--workers", str(workers)]
    return Proc(name, argv, env, log_dir)


def _up(proc: Proc, ready: Callable[[], bool], what: str) -> None:
    wait_until(lambda: ready() or not proc.alive(), 120, what)
    if not proc.alive():
        raise RuntimeError(f"{proc.name} died at start:\n{proc.log_text()[-3000:]}")


def wait_web(proc: Proc, port: int, health: str | None = "/healthz") -> None:
    """Until uvicorn answers (`health` with 200, or at least accepts connections)."""

    def ready() -> bool:
        if not port_open(port):
            return False
        if health is None:
            return True
        import httpx

        try:
            return httpx.get(f"http://127.0.0.1:{port}{health}", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    _up(proc, ready, f"{proc.name} to answer")


def start_worker(
    env: dict[str, str],
    log_dir: Path,
    *,
    queues: str = "celery,background",
    name: str = "worker",
    concurrency: str | None = None,
    nice: int = 0,
) -> Proc:
    """A Celery worker on `queues` (both by default; deploy/Procfile runs one per queue, the
    `background` one at a lower CPU priority: `nice`)."""
    argv = [
        bin_path("celery"), "-A", "smartdesk", "worker", "-Q", queues, "--loglevel", "INFO",
        "--concurrency", concurrency or env.get("WORKER_CONCURRENCY", "2"), "-n", f"{name}@%h",
    ]  # fmt: skip
    if nice:
        argv = ["nice", "-n", str(nice), *argv]
    return Proc(name, argv, env, log_dir)


def wait_worker(proc: Proc) -> None:
    _up(proc, lambda: "ready." in proc.log_text(), "the worker")


# --- /proc readings (psutil is not a dependency) --------------------------------------------


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def process_trees(roots: dict[str, int | list[int]]) -> dict[str, list[int]]:
    """Each root's pid (or pids) with all their descendants, from one pass over /proc."""
    tree = _children()
    trees = {}
    for name, pids in roots.items():
        out: list[int] = []
        todo = list(pids) if isinstance(pids, list) else [pids]
        while todo:
            p = todo.pop()
            out.append(p)
            todo.extend(tree.get(p, []))
        trees[name] = out
    return trees


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of the processes (the tree's reaped children are in cutime/cstime)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the comm: state ppid ... utime is field 14 overall, i.e. index 11 here.
        total += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
    return total / CLOCK_TICKS


def rss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/statm").read_text().split()
        except OSError:
            continue
        total += int(fields[1]) * PAGE_SIZE
    return total


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    parts = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = parts[3] + parts[4]
    return (sum(parts) - idle) / CLOCK_TICKS, sum(parts) / CLOCK_TICKS


def own_cpu_seconds(pid: int) -> float | None:
    """utime + stime of one process (not its children); None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def postgres_backends(database: str) -> list[int]:
    """PostgreSQL backends serving `database` (their titles name it)."""
    out = []
    marker = f" {database} ".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            title = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if title.startswith(b"postgres:") and marker in title:
            out.append(int(entry))
    return out
