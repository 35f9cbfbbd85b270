"""The queue view for admins: what waits in each team queue, and who is there to take it."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.access import Capability, capability_required
from chats.selectors import queue_overview


def _context(request: HttpRequest) -> dict:
    return {"teams": queue_overview(request.user)}


@require_GET
@capability_required(Capability.VIEW_STATISTICS)
def queue_page(request: HttpRequest) -> HttpResponse:
    return render(request, "chats/queue.html", _context(request))


@require_GET
@capability_required(Capability.VIEW_STATISTICS)
def queue_fragment(request: HttpRequest) -> HttpResponse:
    return render(request, "chats/_queue.html", _context(request))
