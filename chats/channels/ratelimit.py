"""Fixed-window rate limits in the shared cache (Redis in production): cheap, and shared by
every web process.

With Redis unreachable the limits are counted in this process's memory instead (looser: per
process, not shared) — the widget and the app keep working on the database alone, still
limited, and nothing answers 500 because a counter is out of reach (issue 12).
"""

from __future__ import annotations

import logging

from django.core.cache import cache
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.locmem import LocMemCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

_local = LocMemCache("smartdesk-ratelimit-fallback", {"OPTIONS": {"MAX_ENTRIES": 10_000}})


def allow(key: str, *, limit: int, window_seconds: int) -> bool:
    """Count one hit on `key`; False once it exceeds `limit` within the window."""
    try:
        return _count(cache, key, limit=limit, window_seconds=window_seconds)
    except (RedisConnectionError, RedisTimeoutError, OSError):
        log.warning("rate limit %s counted in process memory: the cache is unreachable", key)
        return _count(_local, key, limit=limit, window_seconds=window_seconds)


def _count(store: BaseCache, key: str, *, limit: int, window_seconds: int) -> bool:
    name = f"ratelimit:{key}"
    if store.add(name, 1, timeout=window_seconds):
        return True
    try:
        count = store.incr(name)
    except ValueError:  # expired between add and incr
        store.add(name, 1, timeout=window_seconds)
        return True
    return count <= limit
