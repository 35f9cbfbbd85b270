"""The product's URLs plus a bare view that only parses the JSON body: the baseline of
bench/ingest.py."""

from __future__ import annotations

import json

from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def bare(request: HttpRequest) -> JsonResponse:
    payload = json.loads(request.body)
    return JsonResponse({"ok": True, "update_id": payload.get("update_id")})


urlpatterns = [
    path("bench/bare", bare),
    path("", include("smartdesk.urls")),
]
