"""The production shape on loopback: a private redis-server, a PostgreSQL database of its own,
and the real processes (uvicorn, Celery worker and beat) started as subprocesses.

Used by `tests/system/` and by `bench/live.py`; keep the public names stable:
`free_port`, `RedisServer`, `system_database`, `drop_database`, `Proc`, `base_env`,
`start_web`, `start_worker`, `start_beat`, `wait_until`, `seed_demo`, `manage`.

Nothing here touches the shared Redis on 6379 or a database the suite or a developer uses:
every Redis is started on a free port, every database name must start with `system_`.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psycopg
from psycopg import sql

# The code the processes run: this checkout, or another tree of it (e.g. `git archive HEAD`
# unpacked elsewhere, to compare with the committed code) named by SMARTDESK_SYSTEM_REPO.
REPO = Path(os.environ.get("SMARTDESK_SYSTEM_REPO") or Path(__file__).resolve().parents[2])
BIN = Path(sys.executable).parent
PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_URL = "postgres://postgres@127.0.0.1:5432/{name}"
DEMO_PASSWORD = "smartdesk-demo"
# Names this harness may create and drop; anything else (the suite's `test_smartdesk*`, a
# developer's `smartdesk`) is refused.
DATABASE_PREFIX = "system_"
LOG_TAIL_CHARS = 4000

T = TypeVar("T")

_log_dir: Path | None = None
_static_root: Path | None = None
_static_lock = threading.Lock()
_worker_names = itertools.count(1)


def log_dir() -> Path:
    """One directory per test process for every subprocess log (kept after the run)."""
    global _log_dir
    if _log_dir is None:
        _log_dir = Path(tempfile.mkdtemp(prefix="smartdesk-system-"))
    return _log_dir


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(
    predicate: Callable[[], T], timeout: float, what: str, *, interval: float = 0.1
) -> T:
    """Poll `predicate` until it returns something truthy (returned); AssertionError naming
    `what` when `timeout` seconds pass first. An exception from the predicate counts as "not
    yet" and is named in the failure."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            value = predicate()
        except Exception as problem:
            last_error = problem
        else:
            if value:
                return value
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error!r})" if last_error is not None else ""
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}{detail}")
        time.sleep(interval)


def holds_for(
    predicate: Callable[[], object], seconds: float, what: str, *, interval: float = 0.2
) -> None:
    """Check that `predicate` stays truthy for `seconds` (polled); AssertionError naming
    `what` and the time it broke otherwise. The waiting counterpart of `wait_until`."""
    started = time.monotonic()
    while True:
        if not predicate():
            raise AssertionError(f"{what} stopped holding after {time.monotonic() - started:.1f} s")
        if time.monotonic() - started >= seconds:
            return
        time.sleep(interval)


def _tail(path: Path, chars: int = LOG_TAIL_CHARS) -> str:
    try:
        data = path.read_bytes()
    except OSError:
        return "<no log>"
    return data[-chars:].decode("utf-8", "replace")


# --- processes ----------------------------------------------------------------------------


def _group_running(pgid: int) -> list[int]:
    """The processes of group `pgid` still running (a zombie has closed its files already)."""
    running = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_bytes()
        except OSError:
            continue  # gone meanwhile
        # After the command's closing parenthesis (the command may hold any bytes): state,
        # parent, group, ...
        state, _parent, group = stat[stat.rindex(b")") + 2 :].split()[:3]
        if int(group) == pgid and state not in (b"Z", b"X"):
            running.append(int(entry.name))
    return running


class Proc:
    """A subprocess in its own process group, its output in a log file.

    `kill9()` SIGKILLs the whole group (a Celery worker's pool children too, as when a
    container dies); `terminate()` asks politely first. `restart()` starts the same argv again.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        cwd: Path = REPO,
        logs: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(env)
        self.cwd = cwd
        self.log_path = (logs or log_dir()) / f"{name}.log"
        self.base_url = ""  # set for a web process
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        log = self.log_path.open("ab")
        log.write(f"\n--- start {' '.join(self.argv)}\n".encode())
        log.flush()
        try:
            self.process = subprocess.Popen(  # noqa: S603 - our own argv
                self.argv,
                env=self.env,
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            log.close()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text("utf-8", "replace") if self.log_path.exists() else ""

    def tail(self, chars: int = LOG_TAIL_CHARS) -> str:
        return (
            f"--- {self.name} ({self.log_path}), last {chars} chars:\n{_tail(self.log_path, chars)}"
        )

    def _signal_group(self, sig: int) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, sig)

    def kill9(self) -> None:
        """SIGKILL the process and everything it started; no cleanup runs. Returns once none
        of them runs any more (their sockets closed): a pool process outliving its parent by
        a moment would still be talking to the world when the test goes on."""
        if self.process is None:
            return
        self._signal_group(signal.SIGKILL)
        self.process.wait(10)
        pgid = self.process.pid
        wait_until(lambda: not _group_running(pgid), 10, f"every process of {self.name} to die")

    def terminate(self, timeout: float = 10.0) -> None:
        """SIGTERM, wait up to `timeout`, then SIGKILL (the group, so no orphan survives)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self._signal_group(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout)
        # Children (a Celery pool) may outlive their parent's SIGTERM: kill what is left.
        self._signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)

    def restart(self) -> None:
        self.terminate()
        self.start()

    def wait_for_log(self, text: str, timeout: float, *, after: int = 0) -> None:
        """Wait until `text` appears in the log past offset `after` (and the process lives)."""

        def seen() -> bool:
            if not self.alive:
                raise AssertionError(f"{self.name} exited\n{self.tail()}")
            return text in self.log()[after:]

        try:
            wait_until(seen, timeout, f"{self.name} to log {text!r}", interval=0.2)
        except AssertionError as problem:
            raise AssertionError(f"{problem}\n{self.tail()}") from None

    def __repr__(self) -> str:
        return f"<Proc {self.name} pid={self.process.pid if self.process else None}>"


# --- Redis --------------------------------------------------------------------------------


class RedisServer:
    """A private redis-server on a free loopback port: no persistence, so a restart loses
    everything, as a crashed cache node does. `logs` puts its log in that directory instead of
    this run's `log_dir()`; `maxclients` raises redis-server's connection limit (the bench)."""

    def __init__(
        self,
        port: int | None = None,
        *,
        logs: Path | None = None,
        maxclients: int | None = None,
    ) -> None:
        self.port = port or free_port()
        self.logs = logs
        self.maxclients = maxclients
        self.proc: Proc | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        argv = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        if self.maxclients is not None:
            argv += ["--maxclients", str(self.maxclients)]
        if self.proc is None:
            self.proc = Proc(f"redis-{self.port}", argv, os.environ, logs=self.logs)
        else:
            self.proc.terminate()
            self.proc.start()
        wait_until(self.ping, 10, f"redis-server on port {self.port} to answer PING")
        return self

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def client(self) -> Any:
        import redis

        return redis.Redis.from_url(self.url, socket_timeout=5)

    def kill(self) -> None:
        """SIGKILL: connections drop at once, every key is gone."""
        if self.proc is not None:
            self.proc.kill9()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- PostgreSQL ---------------------------------------------------------------------------


def _check_name(name: str) -> None:
    if not name.startswith(DATABASE_PREFIX) or not name.replace("_", "").isalnum():
        raise ValueError(f"system databases are named {DATABASE_PREFIX}<letters/digits>: {name!r}")


def drop_database(name: str) -> None:
    _check_name(name)
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def system_database(name: str) -> str:
    """A fresh, migrated PostgreSQL database `name` (dropped first if it exists); returns its
    DATABASE_URL. Drop it with `drop_database(name)`."""
    drop_database(name)
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = PG_URL.format(name=name)
    manage(["migrate", "--noinput", "-v", "0"], _django_env(url, ""), timeout=300)
    return url


def db_connect(database_url: str) -> psycopg.Connection[Any]:
    """An autocommit psycopg connection (every read sees what is committed now)."""
    return psycopg.connect(database_url.replace("postgres://", "postgresql://", 1), autocommit=True)


# --- environment and Django commands --------------------------------------------------------


# Only these are inherited from the test process: any other variable may be a setting (the
# test run's own, or a developer's exported DEBUG) and the servers get exactly base_env's.
_INHERITED = {"HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "USER", "LOGNAME", "TZ"}


def _django_env(database_url: str, redis_url: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key in _INHERITED}
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY="system-test-secret-key-not-for-production-0123456789",
        DEBUG="false",
        SECURE_COOKIES="false",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DJANGO_SETTINGS_MODULE="smartdesk.settings",
        PYTHONUNBUFFERED="1",
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        PYTHONPATH=str(REPO),
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def manage(
    args: Sequence[str], env: Mapping[str, str], *, timeout: float = 120, stdin: str | None = None
) -> str:
    """Run `manage.py <args>` in a subprocess with `env`; its stdout, or AssertionError with
    its output."""
    result = subprocess.run(  # noqa: S603 - our own argv
        [str(BIN / "python"), "manage.py", *args],
        env=dict(env),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=stdin,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(
            f"manage.py {' '.join(args)} failed ({result.returncode}):\n"
            f"{result.stdout[-LOG_TAIL_CHARS:]}\n{result.stderr[-LOG_TAIL_CHARS:]}"
        )
    return result.stdout


def _static_digest() -> str:
    """A fingerprint of the static sources, so that collected files are reused across runs
    until one changes: our files, the settings, and the installed packages (by their
    directory's modification time, which a pip install changes)."""
    digest = hashlib.sha256(str(REPO).encode())
    for path in sorted((REPO / "static").rglob("*")):
        if path.is_file():
            stat = path.stat()
            digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    digest.update((REPO / "smartdesk" / "settings.py").read_bytes())
    for site in sorted((BIN.parent / "lib").glob("python*/site-packages")):
        digest.update(f"{site}:{site.stat().st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def static_root() -> Path:
    """The collected static files (with DEBUG off the pages need whitenoise's manifest):
    collected once into the temp directory and reused while the sources are unchanged."""
    global _static_root
    with _static_lock:
        if _static_root is None:
            root = Path(tempfile.gettempdir()) / f"smartdesk-system-static-{_static_digest()}"
            if not (root / "staticfiles.json").exists():
                # Collected aside and renamed into place: a concurrent run never sees half.
                partial = Path(tempfile.mkdtemp(prefix="smartdesk-system-static-partial-"))
                env = _django_env("", "")
                env.pop("DATABASE_URL")
                env["STATIC_ROOT"] = str(partial)
                manage(["collectstatic", "--noinput", "-v", "0"], env, timeout=300)
                try:
                    partial.rename(root)
                except OSError:
                    shutil.rmtree(partial, ignore_errors=True)  # another run won the race
            _static_root = root
    return _static_root


def base_env(database_url: str, redis_url: str, **extra: Any) -> dict[str, str]:
    """The production-shape environment (settings, not settings_test; DEBUG off), with
    short timers so that heartbeats and sweeps happen within a test. `extra` wins.

    Collects the static files on first use (the pages need the manifest with DEBUG off).
    """
    env = _django_env(database_url, redis_url)
    env.update(
        STATIC_ROOT=str(static_root()),
        LIVE_HEARTBEAT_SECONDS="2",
        DELIVERY_STUCK_SECONDS="10",
        DELIVERY_SWEEP_SECONDS="5",
        LOG_LEVEL="INFO",
    )
    env.update({key: str(value) for key, value in extra.items()})
    return env


def seed_demo(env: Mapping[str, str]) -> None:
    manage(["seed_demo", "--force"], env, timeout=300)


# --- the processes ------------------------------------------------------------------------


def http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def start_web(env: Mapping[str, str], port: int, *, timeout: float = 60) -> Proc:
    """uvicorn as in deploy/Procfile, ready when /healthz answers 200."""
    proc = Proc(
        f"web-{port}",
        [
            str(BIN / "uvicorn"),
            "smartdesk.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--lifespan",
            "off",
            "--ws-per-message-deflate",
            "false",
        ],
        env,
    )
    base = f"http://127.0.0.1:{port}"
    proc.base_url = base

    def up() -> bool:
        if not proc.alive:
            raise AssertionError(f"{proc.name} exited\n{proc.tail()}")
        return http_ok(f"{base}/healthz")

    try:
        wait_until(up, timeout, f"{proc.name} to answer /healthz", interval=0.2)
    except AssertionError as problem:
        proc.terminate()
        raise AssertionError(f"{problem}\n{proc.tail()}") from None
    return proc


# The pool processes of each worker the tests start.
WORKER_CONCURRENCY = 2


def start_worker(
    env: Mapping[str, str], *, queues: str = "celery,background", timeout: float = 90
) -> Proc:
    """A Celery worker (WORKER_CONCURRENCY processes) on `queues` (both by default;
    deploy/Procfile runs one per queue), ready when it logs that it is."""
    n = next(_worker_names)
    proc = Proc(
        f"worker-{n}",
        [
            str(BIN / "celery"),
            "-A",
            "smartdesk",
            "worker",
            "-Q",
            queues,
            "--concurrency",
            str(WORKER_CONCURRENCY),
            "--loglevel",
            "INFO",
            "-n",
            f"w{n}@%h",
        ],
        env,
    )
    try:
        proc.wait_for_log(" ready.", timeout)
    except AssertionError:
        proc.terminate()
        raise
    return proc


def start_beat(env: Mapping[str, str], schedule_file: str | Path, *, timeout: float = 60) -> Proc:
    proc = Proc(
        f"beat-{next(_worker_names)}",
        [
            str(BIN / "celery"),
            "-A",
            "smartdesk",
            "beat",
            "--loglevel",
            "INFO",
            "--schedule",
            str(schedule_file),
        ],
        env,
    )
    try:
        proc.wait_for_log("beat: Starting", timeout)
    except AssertionError:
        proc.terminate()
        raise
    return proc
