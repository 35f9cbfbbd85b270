"""Fixed-window rate limits in the shared cache (Redis in production): cheap, and shared by
every web process."""

from __future__ import annotations

from django.core.cache import cache


def allow(key: str, *, limit: int, window_seconds: int) -> bool:
    """Count one hit on `key`; False once it exceeds `limit` within the window."""
    name = f"ratelimit:{key}"
    if cache.add(name, 1, timeout=window_seconds):
        return True
    try:
        count = cache.incr(name)
    except ValueError:  # expired between add and incr
        cache.add(name, 1, timeout=window_seconds)
        return True
    return count <= limit
