"""Prometheus metrics: the collectors, the request middleware, and the guarded /metrics view.

Later apps register their own collectors here so that every metric name is found in one place.
"""

from __future__ import annotations

import hmac
import logging
import time
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from celery import signals as celery_signals
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

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
    "WebSocket connections open now in this process, by endpoint.",
    ["endpoint"],
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
)
AFTER_COMMIT_FAILURES = Counter(
    "smartdesk_after_commit_failures",
    "Side effects run after a commit (smartdesk.oncommit.after_commit) that raised, by name. "
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


class QueueCollector:
    """Queue length and oldest waiting age per team, read from the database at each scrape
    (one grouped query), so every process reports the same truth."""

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Any:
        from django.db.models import Count, Min
        from django.utils import timezone
        from prometheus_client.core import GaugeMetricFamily

        from chats.models import Conversation
        from chats.services.distribution import waiting_q

        length = GaugeMetricFamily(
            "smartdesk_queue_length",
            "Conversations waiting for an operator, by team.",
            labels=["team"],
        )
        oldest = GaugeMetricFamily(
            "smartdesk_queue_oldest_wait_seconds",
            "How long the longest-queued conversation has waited, by team.",
            labels=["team"],
        )
        now = timezone.now()
        rows = (
            Conversation.objects.filter(waiting_q())
            .values("team__name")
            .annotate(n=Count("pk"), first=Min("queued_at"))
        )
        for row in rows:
            team = row["team__name"] or ""
            length.add_metric([team], row["n"])
            first = row["first"]
            oldest.add_metric([team], (now - first).total_seconds() if first else 0.0)
        yield length
        yield oldest


_queue_collector: QueueCollector | None = None


def register_queue_collector() -> None:
    global _queue_collector
    if _queue_collector is None:
        _queue_collector = QueueCollector()
        REGISTRY.register(_queue_collector)  # type: ignore[arg-type]


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
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)


_task_started: dict[str, float] = {}


def _on_task_prerun(task_id: str | None = None, **_: Any) -> None:
    if task_id:
        _task_started[task_id] = time.perf_counter()


def _on_task_postrun(
    task_id: str | None = None, task: Any = None, state: str | None = None, **_: Any
) -> None:
    name = getattr(task, "name", "unknown")
    CELERY_TASKS.labels(name, state or "UNKNOWN").inc()
    started = _task_started.pop(task_id or "", None)
    if started is not None:
        CELERY_TASK_DURATION.labels(name).observe(time.perf_counter() - started)


def connect_celery_signals() -> None:
    celery_signals.task_prerun.connect(_on_task_prerun, weak=False, dispatch_uid="sd-metrics-pre")
    celery_signals.task_postrun.connect(
        _on_task_postrun, weak=False, dispatch_uid="sd-metrics-post"
    )
