"""Prometheus metrics: the collectors, the request middleware, and the guarded /metrics view.

Apps add the gauges they read from the database at scrape time with `register_scrape_collector`
(the waiting-queue gauges live in chats/metrics.py).

One process (`make run`, a test): the values live in this process and `/metrics` reports them.

A fleet (several uvicorn processes, Celery workers and their prefork children, beat): set
`PROMETHEUS_MULTIPROC_DIR` to a directory that every process of one host (one pod) shares,
empty when they start. prometheus_client then keeps every value in a file per process there,
and `/metrics` (or a worker's `METRICS_PORT`) adds them up: counters and histograms of
processes that have exited keep counting; gauges of open things (`livesum`) count only the
processes alive, and a process that ended — cleanly or killed — is dropped from them (its
files are removed at exit, and by any process that finds it gone). Gauges read from the
database (the queue) are computed at scrape time and are the same from every process.
Across hosts or pods Prometheus adds the scrapes up (`sum by`); see docs/deploy.md.
"""

from __future__ import annotations

import atexit
import contextlib
import hmac
import logging
import os
import re
import time
from pathlib import Path
from typing import Any

# Must exist before the first metric is built (an unlabelled one opens its file at once).
MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
if MULTIPROC_DIR:
    Path(MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)

from asgiref.sync import iscoroutinefunction, markcoroutinefunction  # noqa: E402
from celery import signals as celery_signals  # noqa: E402
from django.conf import settings  # noqa: E402
from django.http import HttpRequest, HttpResponse  # noqa: E402
from prometheus_client import (  # noqa: E402
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess  # noqa: E402

logger = logging.getLogger(__name__)
_LIVE_FILE = re.compile(r"^gauge_live[a-z]+_(\d+)\.db$")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def forget_process(pid: int) -> None:
    """Drop process `pid` from the live gauges (multiprocess mode; a no-op otherwise)."""
    if MULTIPROC_DIR:
        with contextlib.suppress(OSError):
            prometheus_multiprocess.mark_process_dead(pid, MULTIPROC_DIR)


def forget_dead_processes() -> int:
    """Drop from the live gauges every process of this host that is gone (killed, so its own
    exit hook never ran); how many. Run at start-up and at every scrape."""
    if not MULTIPROC_DIR:
        return 0
    dead: set[int] = set()
    with contextlib.suppress(OSError):
        for name in os.listdir(MULTIPROC_DIR):
            match = _LIVE_FILE.match(name)
            if match and not _pid_alive(int(match.group(1))):
                dead.add(int(match.group(1)))
    for pid in dead:
        forget_process(pid)
    return len(dead)


def _start_process_bookkeeping() -> None:
    if not MULTIPROC_DIR:
        return
    # A live gauge file carrying our pid was left by an earlier process with the same pid (a
    # container's pid 1 after a restart): stale by definition, since we have counted nothing.
    forget_process(os.getpid())
    forget_dead_processes()
    atexit.register(lambda: forget_process(os.getpid()))


_start_process_bookkeeping()


HTTP_REQUESTS = Counter(
    "smartdesk_http_requests",
    "HTTP requests answered, by method, route pattern and status code.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "smartdesk_http_request_duration_seconds",
    "Server time per HTTP request, by method and route pattern.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
WEBSOCKET_CONNECTIONS = Gauge(
    "smartdesk_websocket_connections",
    "WebSocket connections open now, by endpoint (summed over the live processes).",
    ["endpoint"],
    multiprocess_mode="livesum",
)
WEBSOCKET_ACCEPTED = Counter(
    "smartdesk_websocket_accepted",
    "WebSocket connections accepted, by endpoint.",
    ["endpoint"],
)
LIVE_DROPPED = Counter(
    "smartdesk_live_dropped",
    "Live events the channel layer dropped or failed to send, by where (publish: the send "
    "after commit failed; capacity: a group member's queue was full). Sockets recover them "
    "from the live-event log at their next heartbeat.",
    ["where"],
)
LAYER_MEMBERS = Gauge(
    "smartdesk_channel_layer_members",
    "Group memberships held in the processes' pub/sub channel layers (a socket in three "
    "groups counts three); with the list layer the memberships live in Redis and this stays 0.",
    multiprocess_mode="livesum",
)
LIVE_RECOVERED = Counter(
    "smartdesk_live_recovered",
    "Events a socket's heartbeat found missing and forwarded from the live-event log.",
)


class ChannelLayerCapacityFilter:
    """A logging filter for channels-redis, which reports group sends dropped at `capacity`
    only at INFO: count them and raise the record to a warning, so loss is never silent."""

    MESSAGE = "%s of %s channels over capacity in group %s"

    def filter(self, record: Any) -> bool:
        if record.msg == self.MESSAGE and record.args:
            LIVE_DROPPED.labels("capacity").inc(int(record.args[0]))
            record.levelno = logging.WARNING
            record.levelname = "WARNING"
        return True


CELERY_TASKS = Counter(
    "smartdesk_celery_tasks",
    "Celery task runs finished, by task name and outcome (SUCCESS, FAILURE, RETRY...).",
    ["task", "outcome"],
)
CELERY_TASK_DURATION = Histogram(
    "smartdesk_celery_task_duration_seconds",
    "Celery task run time, by task name.",
    ["task"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
)
CELERY_TASKS_RUNNING = Gauge(
    "smartdesk_celery_tasks_running",
    "Celery tasks running now, by task name (summed over the live worker processes).",
    ["task"],
    multiprocess_mode="livesum",
)
AFTER_COMMIT_FAILURES = Counter(
    "smartdesk_after_commit_failures",
    "Side effects run after a commit (smartdesk.core.oncommit.after_commit) that raised, by name. "
    "Each is isolated: the others still ran and the committed write stands.",
    ["name"],
)

# --- distribution (chats.services.distribution) -------------------------------------------
ASSIGNMENTS = Counter(
    "smartdesk_assignments",
    "Conversations given to an operator, by how (auto, manual, reopened...).",
    ["mode"],
)
TIME_TO_ASSIGNMENT = Histogram(
    "smartdesk_time_to_assignment_seconds",
    "From entering a team queue to being assigned.",
    ["mode"],
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200),
)


def record_assignment(mode: str, queued_at: Any, assigned_at: Any) -> None:
    ASSIGNMENTS.labels(mode).inc()
    if queued_at is not None and assigned_at is not None:
        TIME_TO_ASSIGNMENT.labels(mode).observe(max(0.0, (assigned_at - queued_at).total_seconds()))


# Collectors computed at scrape time (from the database): in multiprocess mode they are added
# to each scrape's registry beside the files of every process. Apps register theirs from
# their AppConfig.ready with `register_scrape_collector`.
_scrape_collectors: list[Any] = []


def register_scrape_collector(collector: Any) -> None:
    """Report `collector` at every scrape: in this process's registry, and in multiprocess mode
    beside the files of every process. Registering the same collector again is a no-op
    (`ready()` may run more than once)."""
    if any(existing is collector for existing in _scrape_collectors):
        return
    REGISTRY.register(collector)
    _scrape_collectors.append(collector)


def scrape_registry(*, with_database: bool = True) -> Any:
    """What one scrape reports: this process's registry, or in multiprocess mode every
    process's files of this host plus the collectors read from the database."""
    if not MULTIPROC_DIR:
        return REGISTRY
    forget_dead_processes()
    registry = CollectorRegistry()
    prometheus_multiprocess.MultiProcessCollector(registry, MULTIPROC_DIR)
    if with_database:
        for collector in _scrape_collectors:
            registry.register(collector)
    return registry


def _route(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    # The route pattern, never the raw path: ids in paths would explode the label set.
    return match.route if match is not None else "<unmatched>"


def _observe(request: HttpRequest, response: HttpResponse, started: float) -> None:
    route = _route(request)
    HTTP_REQUESTS.labels(request.method, route, str(response.status_code)).inc()
    HTTP_LATENCY.labels(request.method, route).observe(time.perf_counter() - started)


class RequestMetricsMiddleware:
    """Counts requests and their server time; works under WSGI and ASGI without a thread hop."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response
        self._is_async = iscoroutinefunction(get_response)
        if self._is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self._is_async:
            return self._acall(request)
        started = time.perf_counter()
        response = self.get_response(request)
        _observe(request, response, started)
        return response

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = await self.get_response(request)
        _observe(request, response, started)
        return response


def _metrics_allowed(request: HttpRequest) -> bool:
    if settings.METRICS_TOKEN:
        header = request.headers.get("Authorization", "")
        expected = f"Bearer {settings.METRICS_TOKEN}"
        return hmac.compare_digest(header.encode(), expected.encode())
    return request.META.get("REMOTE_ADDR", "") in settings.METRICS_ALLOWED_IPS


def metrics_view(request: HttpRequest) -> HttpResponse:
    if not _metrics_allowed(request):
        return HttpResponse(
            "Forbidden: /metrics needs the metrics token or an allowed address.\n",
            status=403,
            content_type="text/plain; charset=utf-8",
        )
    return HttpResponse(generate_latest(scrape_registry()), content_type=CONTENT_TYPE_LATEST)


_task_started: dict[str, tuple[float, str]] = {}


def _on_task_prerun(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    if task_id:
        name = getattr(task, "name", "unknown")
        _task_started[task_id] = (time.perf_counter(), name)
        CELERY_TASKS_RUNNING.labels(name).inc()


def _on_task_postrun(
    task_id: str | None = None, task: Any = None, state: str | None = None, **_: Any
) -> None:
    name = getattr(task, "name", "unknown")
    CELERY_TASKS.labels(name, state or "UNKNOWN").inc()
    started = _task_started.pop(task_id or "", None)
    if started is not None:
        CELERY_TASK_DURATION.labels(name).observe(time.perf_counter() - started[0])
        CELERY_TASKS_RUNNING.labels(started[1]).dec()


def _on_pool_child_start(**_: Any) -> None:
    # A prefork child: a live gauge file with its pid belongs to a dead predecessor.
    forget_process(os.getpid())


def _on_pool_child_stop(**_: Any) -> None:
    forget_process(os.getpid())


def _on_worker_ready(sender: Any = None, **_: Any) -> None:
    """The worker's main process serves the fleet's files on METRICS_PORT, if set (a worker
    pod has no web server; Prometheus scrapes this port)."""
    start_metrics_server()


_metrics_server_started = False


def start_metrics_server(port: int | None = None) -> int:
    """Serve `/metrics` (this host's processes, without the database collectors, which the
    web serves) on `port` or METRICS_PORT in a daemon thread; the port, or 0 when none."""
    global _metrics_server_started
    port = settings.METRICS_PORT if port is None else port
    if not port or _metrics_server_started:
        return 0
    from prometheus_client import start_http_server

    start_http_server(port, addr=settings.METRICS_ADDR, registry=_ScrapeProxy())
    _metrics_server_started = True
    logger.info("metrics on http://%s:%s/metrics", settings.METRICS_ADDR, port)
    return port


class _ScrapeProxy:
    """A registry that is rebuilt at each scrape (so that new process files are seen)."""

    def collect(self) -> Any:
        return scrape_registry(with_database=False).collect()


def connect_celery_signals() -> None:
    celery_signals.task_prerun.connect(_on_task_prerun, weak=False, dispatch_uid="sd-metrics-pre")
    celery_signals.task_postrun.connect(
        _on_task_postrun, weak=False, dispatch_uid="sd-metrics-post"
    )
    celery_signals.worker_process_init.connect(
        _on_pool_child_start, weak=False, dispatch_uid="sd-metrics-child-start"
    )
    celery_signals.worker_process_shutdown.connect(
        _on_pool_child_stop, weak=False, dispatch_uid="sd-metrics-child-stop"
    )
    celery_signals.worker_ready.connect(
        _on_worker_ready, weak=False, dispatch_uid="sd-metrics-worker-ready"
    )
