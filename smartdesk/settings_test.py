"""Test overlay: the real settings pointed at the local PostgreSQL and Redis.

`make test` (and plain `pytest`) use this module. Override the defaults with DATABASE_URL and
REDIS_URL. Only choices that exist for tests live here.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time


def _private_redis() -> str:
    """Start a redis-server of this test process's own on a free loopback port.

    Tests clear the cache (FLUSHDB) and fill channel-layer groups: they may do that only to a
    Redis they started. It keeps nothing on disk and dies with this process.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    workdir = tempfile.mkdtemp(prefix="smartdesk-test-redis-")

    def _die_with_parent() -> None:  # Linux: SIGTERM when the test process dies, even by -9
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)

    server = subprocess.Popen(  # noqa: S603
        [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            workdir,
            "--databases",
            "16",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=_die_with_parent,
    )
    atexit.register(server.terminate)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    return f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the test redis-server did not start")


os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/smartdesk")
if "REDIS_URL" not in os.environ:
    # Exported so that processes the tests start (servers, commands) use the same one.
    os.environ["REDIS_URL"] = _private_redis()
os.environ.setdefault("SECRET_KEY", "test-only-secret-key")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECURE_COOKIES", "false")
# The suite's own threads (live servers, consumers) close their connections; the production
# pool is exercised by the system tests (tests/system/), which run the real settings.
os.environ.setdefault("DB_POOL_MAX_SIZE", "0")
os.environ.setdefault("DB_CONN_MAX_AGE", "0")
# Socket tests count the frames they receive; tests of the heartbeat shorten it themselves.
os.environ.setdefault("LIVE_HEARTBEAT_SECONDS", "600")

from smartdesk.settings import *  # noqa: E402, F403
from smartdesk.settings import CACHES, CHANNEL_LAYERS  # noqa: E402

# With REDIS_URL given, parallel test workers (and parallel runs) share one Redis: keep their
# keys and groups apart.
_worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
_run = os.environ["DATABASE_URL"].rsplit("/", 1)[-1]
if "CONFIG" in CHANNEL_LAYERS["default"]:
    CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = f"test-{_run}-{_worker}"
CACHES["default"]["KEY_PREFIX"] = f"test-{_run}-{_worker}"
# Tests may `cache.clear()`, which on Redis is FLUSHDB: give each worker's cache a database of
# its own (1-14; 15 for a run without xdist), away from the channel layer's database 0.
if CACHES["default"]["BACKEND"].endswith("RedisCache"):
    _digits = "".join(ch for ch in _worker if ch.isdigit())
    _db = 1 + int(_digits) % 14 if _digits else 15
    CACHES["default"]["LOCATION"] = CACHES["default"]["LOCATION"].rsplit("/", 1)[0] + f"/{_db}"

# Task code runs in the test process; tests that need real workers start them.
CELERY_TASK_ALWAYS_EAGER = True
TICKER_ENABLED = False
# Issue 14: conversations are classified (a model load, a priority raise on complaints) only in
# the tests about it, which turn this on; the others keep the events they count.
AI_CLASSIFY_ENABLED = False
# Issue 13: no undo window for a close, so what a close sets off (the survey, the AI summary)
# follows it at once; the tests about the undo set a window (and the sweep that ends it).
CLOSE_UNDO_SECONDS = 0

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True  # no collectstatic before tests
