"""Liveness and readiness probes for load balancers and Kubernetes."""

from __future__ import annotations

import logging

import redis
from django.conf import settings
from django.db import DatabaseError, connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from smartdesk.core import routers

logger = logging.getLogger(__name__)


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up and answering; checks nothing behind it."""
    return JsonResponse({"status": "ok"})


def _check_database() -> str:
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        # Unauthenticated probe: name the failure, keep hosts and users for the log.
        logger.warning("readyz: database check failed: %s", exc)
        return f"error: {exc.__class__.__name__}"
    return "ok"


def _check_redis() -> str:
    if not settings.REDIS_URL:
        return "not configured (embedded mode)"
    timeout = settings.READYZ_TIMEOUT_SECONDS
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=timeout, socket_timeout=timeout
    )
    try:
        client.ping()
    except redis.RedisError as exc:
        logger.warning("readyz: redis check failed: %s", exc)
        return f"error: {exc.__class__.__name__}"
    finally:
        client.close()
    return "ok"


@require_GET
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """The database and Redis both answer; 503 naming each one that does not."""
    checks = {"database": _check_database(), "redis": _check_redis()}
    failed = [name for name, result in checks.items() if result.startswith("error")]
    # The read replica is reported, not required: a replica down or behind slows
    # analytics, it does not make this process unable to serve operators. Bounded: the alias
    # has a 1 s connect timeout and no pool, and the answer is cached for a few seconds.
    replica = routers.replica_status()
    if failed:
        return JsonResponse(
            {"status": "unavailable", "failed": failed, "checks": checks, "replica": replica},
            status=503,
        )
    return JsonResponse({"status": "ok", "checks": checks, "replica": replica})
