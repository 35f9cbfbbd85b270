"""Analytics reads and exports on a read replica (docs/partitions.md, "Read replica").

With `DATABASE_REPLICA_URL` set, settings add a `replica` database alias and this router.
Reads go to the replica only inside a *replica scope*:

- an HTTP GET/HEAD under one of `REPLICA_READ_PATHS` (the statistics pages and the reports
  API), opened by `ReplicaReadsMiddleware`;
- a Celery task named in `REPLICA_READ_TASKS` (the export builder), opened by task signals;
- code that says so: `with replica_reads(): ...`.

and only for the models of `REPLICA_READ_APPS`, minus `REPLICA_NEVER` (the export job row the
task claims and updates; sessions, users and roles always come from the primary, so a revoked
right or a fresh sign-in is never seen late). Every write goes to the primary, whatever the
scope (`db_for_write`), and so does `select_for_update`. Outside a scope, and with no replica
configured, everything is the primary, as before. Replica lag is on `/readyz`.

A replica that is down never takes the primary's pages with it: its alias has no pool and a
1 s connect timeout (`replica_database`), its status on `/readyz` is cached for a few seconds,
and a scoped GET that fails on it with an OperationalError is answered again from the primary,
which then serves every scope until the replica answers again (`REPLICA_RETRY_SECONDS`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.db import DatabaseError, OperationalError, connections
from django.http import HttpRequest, HttpResponse

REPLICA = "replica"
PRIMARY = "default"
REPLICA_CONNECT_TIMEOUT = 1  # seconds: the readiness probe's budget is 3 s for everything
REPLICA_STATUS_SECONDS = 5.0  # /readyz asks the replica at most once per this
REPLICA_RETRY_SECONDS = 5.0  # after a failure, scopes read the primary this long

log = logging.getLogger(__name__)

_scope: ContextVar[bool] = ContextVar("smartdesk_replica_reads", default=False)


def replica_database(config: dict[str, Any], default: dict[str, Any]) -> dict[str, Any]:
    """The `replica` alias (settings): `config` parsed from DATABASE_REPLICA_URL, the primary's
    options minus its pool. A pool would make a caller wait its whole pool timeout (10 s) for a
    replica that is down; without one a refused or silent replica fails within
    REPLICA_CONNECT_TIMEOUT and the request falls back to the primary."""
    options = {
        key: dict(value) if isinstance(value, dict) else value
        for key, value in default.get("OPTIONS", {}).items()
        if key != "pool"
    }
    options["connect_timeout"] = REPLICA_CONNECT_TIMEOUT
    return {
        **config,
        "OPTIONS": options,
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": False,
        "ATOMIC_REQUESTS": False,
        "TEST": {"MIRROR": "default"},  # the suite's replica is its test database
    }


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


# Per process: the replica's last status for /readyz (monotonic expiry, status), and until
# when scopes read the primary after a failed read.
_status: dict[str, tuple[float, dict[str, Any]]] = {}
_down_until: dict[str, float] = {}


def _replica_key() -> str:
    config = settings.DATABASES.get(REPLICA, {})
    return f"{config.get('HOST')}:{config.get('PORT')}/{config.get('NAME')}"


def forget_replica_status() -> None:
    _status.clear()
    _down_until.clear()


def replica_failed(exc: BaseException) -> None:
    """A read on the replica failed: scopes use the primary for REPLICA_RETRY_SECONDS."""
    log.warning("replica read failed, using the primary: %s", exc.__class__.__name__)
    _down_until[_replica_key()] = time.monotonic() + REPLICA_RETRY_SECONDS


def replica_usable() -> bool:
    return _down_until.get(_replica_key(), 0.0) <= time.monotonic()


@contextmanager
def replica_reads() -> Iterator[None]:
    """Reads of the allowed models inside go to the replica (when one is configured)."""
    token = _scope.set(True)
    try:
        yield
    finally:
        _scope.reset(token)


def in_replica_scope() -> bool:
    return _scope.get()


class PrimaryReplicaRouter:
    def db_for_read(self, model: type, **hints: Any) -> str | None:
        if not replica_configured():
            return None
        meta = model._meta
        if (
            _scope.get()
            and replica_usable()
            and meta.app_label in settings.REPLICA_READ_APPS
            and meta.label_lower not in settings.REPLICA_NEVER
        ):
            return REPLICA
        return PRIMARY  # also for related objects of a row read on the replica

    def db_for_write(self, model: type, **hints: Any) -> str | None:
        return PRIMARY if replica_configured() else None

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        return True if replica_configured() else None  # one database's data, two copies

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        return db != REPLICA  # the replica follows the primary's WAL


class ReplicaReadsMiddleware:
    """Opens the replica scope for GET/HEAD requests under `REPLICA_READ_PATHS`; a view that
    fails there with an OperationalError (the replica down) runs again on the primary."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            request.method in ("GET", "HEAD")
            and replica_configured()
            and request.path.startswith(tuple(settings.REPLICA_READ_PATHS))
        ):
            with replica_reads():
                return self.get_response(request)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not (_scope.get() and isinstance(exception, OperationalError)):
            return None
        replica_failed(exception)
        connections[REPLICA].close()
        token = _scope.set(False)  # a GET/HEAD: safe to run again, now on the primary
        try:
            return self.get_response(request)
        finally:
            _scope.reset(token)


# --- Celery: the export builder reads on the replica ------------------------------------------

_task_tokens: dict[str, Any] = {}


def _task_started(task_id: str | None = None, task: Any = None, **kwargs: Any) -> None:
    if task is not None and task.name in settings.REPLICA_READ_TASKS and task_id:
        _task_tokens[task_id] = _scope.set(True)


def _task_finished(task_id: str | None = None, **kwargs: Any) -> None:
    token = _task_tokens.pop(task_id or "", None)
    if token is not None:
        _scope.reset(token)


def connect_celery_signals() -> None:
    from celery.signals import task_postrun, task_prerun

    task_prerun.connect(_task_started, weak=False, dispatch_uid="smartdesk.core.routers.prerun")
    task_postrun.connect(_task_finished, weak=False, dispatch_uid="smartdesk.core.routers.postrun")


# --- lag ----------------------------------------------------------------------------------------

LAG_SQL = """
SELECT pg_is_in_recovery(),
       CASE WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn()
            THEN 0
            ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())
       END,
       pg_is_in_recovery() AND pg_is_wal_replay_paused()
"""


def replica_status() -> dict[str, Any]:
    """For /readyz: is a replica configured, does it answer, how far behind is it (seconds
    of WAL received but not yet replayed; 0 when it has replayed all it received)."""
    if not replica_configured():
        return {"configured": False}
    key = _replica_key()
    cached = _status.get(key)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    try:
        with connections[REPLICA].cursor() as cursor:
            cursor.execute(LAG_SQL)
            recovering, lag, paused = cursor.fetchone()
    except DatabaseError as exc:
        status: dict[str, Any] = {"configured": True, "status": f"error: {exc.__class__.__name__}"}
    else:
        status = {
            "configured": True,
            "status": "ok" if recovering else "error: not a standby",
            "lag_seconds": round(float(lag or 0), 3),
            "replay_paused": bool(paused),
        }
    _status[key] = (time.monotonic() + REPLICA_STATUS_SECONDS, status)
    return status
