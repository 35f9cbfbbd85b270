"""The cached routes' version: routes are cached under it, and a change to the routing rules
bumps it, which drops them all at once."""

from __future__ import annotations

from django.core.cache import cache

ROUTE_RULES_VERSION_KEY = "telephony:route-rules-version"


def route_rules_changed() -> None:
    """Cached routes are keyed by the rules' version: bumping it drops them all at once."""
    try:
        cache.incr(ROUTE_RULES_VERSION_KEY)
    except ValueError:
        cache.set(ROUTE_RULES_VERSION_KEY, 1, None)
