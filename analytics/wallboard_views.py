"""The live wallboard pages: the normal one (inside the site) and TV mode (full screen, for a
screen on the floor). Thin: the figures come from `selectors.wallboard` and `wallboard`."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.access import Capability, capability_required
from analytics import selectors
from analytics.wallboard import wallboard_agents, wallboard_tiles

# Tiles on one screen of TV mode; more teams rotate through pages (no scrolling on a TV).
TILES_PER_PAGE = 12


def _rotate_seconds() -> int:
    """Seconds a page of TV mode stays before the next (and the no-JavaScript refresh)."""
    return max(5, settings.WALLBOARD_ROTATE_SECONDS)


def _wallboard_context(request: HttpRequest) -> dict[str, Any]:
    tiles = wallboard_tiles(user=request.user)
    return {
        "board": selectors.wallboard(request.user),
        "tiles": tiles,
        "agents": wallboard_agents(tiles),
        "now": timezone.now(),
    }


@require_GET
@capability_required(Capability.VIEW_STATISTICS)
def wallboard(request: HttpRequest) -> HttpResponse:
    return render(request, "analytics/wallboard.html", _wallboard_context(request))


@require_GET
@capability_required(Capability.VIEW_STATISTICS)
def wallboard_fragment(request: HttpRequest) -> HttpResponse:
    return render(request, "analytics/_wallboard.html", _wallboard_context(request))


def _page(value: str | None, pages: int) -> int:
    """The page asked for, 1-based; anything else (a stale link, garbage) is the first."""
    number = int(value) if value and value.isascii() and value.isdigit() else 1
    return number if 1 <= number <= pages else 1


def _tv_context(request: HttpRequest) -> dict[str, Any]:
    tiles = wallboard_tiles(user=request.user)
    pages = max(1, -(-len(tiles) // TILES_PER_PAGE))
    page = _page(request.GET.get("page"), pages)
    shown = tiles[(page - 1) * TILES_PER_PAGE : page * TILES_PER_PAGE]
    next_page = page % pages + 1
    live = reverse("statistics-wallboard-tv-live")
    return {
        "tiles": shown,
        "tile_count": len(shown),
        "agent_count": max((len(t.agents) for t in shown), default=0),
        "page": page,
        "pages": pages,
        "refresh_url": f"{live}?page={page}",
        "next_live_url": f"{live}?page={next_page}",
        "next_page_url": f"{reverse('statistics-wallboard-tv')}?page={next_page}",
        "rotate_seconds": _rotate_seconds(),
        "now": timezone.now(),
    }


@require_GET
@capability_required(Capability.VIEW_STATISTICS)
def wallboard_tv(request: HttpRequest) -> HttpResponse:
    return render(request, "analytics/wallboard_tv.html", _tv_context(request))


@require_GET
@capability_required(Capability.VIEW_STATISTICS)
def wallboard_tv_fragment(request: HttpRequest) -> HttpResponse:
    return render(request, "analytics/_wallboard_tv.html", _tv_context(request))
