"""Refuse bad requests before any view sees them.

- A NUL character in the path, the query string or a url-encoded form (`%00`): 400.
  PostgreSQL refuses NUL in text, so an id carrying one would otherwise end in a 500 at the
  first query.
- A body larger than `DATA_UPLOAD_MAX_MEMORY_SIZE` (a multipart upload: one attachment of
  `ATTACHMENT_MAX_BYTES` more, which Django streams to disk): 413, before it is read. Django's own
  `RequestDataTooBig`, raised when a view reads such a body anyway, is answered the same way
  instead of Django's HTML 400 page.
- Redis out of reach in a view (the cache, the broker): 503 with `Retry-After`, not a 500.
- An HTTP method no API view knows (`TRACE`, `CONNECT`, `PROPFIND`…) on an API path that
  exists: 405 with `Allow`, not 404.

Callers of `/api/` and `/integrations/` (machines) get JSON; people get a short text page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_to_bytes

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve
from django.utils.translation import gettext as _

from smartdesk.core.api_errors import RETRY_AFTER_SECONDS, backend_unavailable
from smartdesk.core.parsers import max_body_bytes, too_large_message

MACHINE_PREFIXES = ("/api/", "/integrations/")
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _for_machines(request: HttpRequest) -> bool:
    return request.path.startswith(MACHINE_PREFIXES)


def refusal(request: HttpRequest, status: int, detail: str, **headers: str) -> HttpResponse:
    """A refusal in the caller's language of choice: JSON for the API and webhooks."""
    if _for_machines(request):
        response: HttpResponse = JsonResponse({"detail": detail}, status=status)
    else:
        response = HttpResponse(detail, status=status, content_type="text/plain; charset=utf-8")
    for name, value in headers.items():
        response[name] = value
    return response


def _has_nul(request: HttpRequest) -> bool:
    if "\x00" in request.path:
        return True
    query = request.META.get("QUERY_STRING", "")
    return "\x00" in query or b"\x00" in unquote_to_bytes(query.replace("+", " "))


def _form_has_nul(request: HttpRequest) -> bool:
    """A url-encoded form (the pages' POSTs) carrying a NUL in any name or value. Read here
    once; Django parses `request.POST` from the same bytes later. JSON is the parser's."""
    if not request.META.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        return False
    body = request.body
    return b"\x00" in body or b"%00" in body


def _body_limit(request: HttpRequest) -> int:
    """A multipart upload (one attachment, streamed to disk by Django) may carry one file of up
    to `ATTACHMENT_MAX_BYTES` beside its fields; any other body at most `MAX_BODY_BYTES`."""
    if request.META.get("CONTENT_TYPE", "").startswith("multipart/"):
        return settings.ATTACHMENT_MAX_BYTES + max_body_bytes()
    return max_body_bytes()


def _content_length(request: HttpRequest) -> int | None:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None


def _allowed_methods(request: HttpRequest) -> list[str] | None:
    """The methods the view at this path answers; None when no view is there."""
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return None
    view: Any = match.func
    cls = getattr(view, "cls", None) or getattr(view, "view_class", None)
    if cls is not None:
        names = getattr(cls, "http_method_names", [])
        return [m.upper() for m in names if m != "options" and hasattr(cls, m)] + ["OPTIONS"]
    return sorted(KNOWN_METHODS)


class InputBoundsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _has_nul(request):
            return refusal(request, 400, _("The address must not contain NUL characters."))
        if request.method not in KNOWN_METHODS and _for_machines(request):
            allowed = _allowed_methods(request)
            if allowed is not None:
                return refusal(
                    request,
                    405,
                    _("Method “%(m)s” not allowed.") % {"m": request.method},
                    Allow=", ".join(allowed),
                )
        length = _content_length(request)
        if length is None:
            return refusal(request, 400, _("The Content-Length header is not a number."))
        if length > _body_limit(request):
            return refusal(request, 413, too_large_message(_body_limit(request)))
        try:
            # Also a chunked body (no Content-Length): Django's own limit applies as it is read.
            if _form_has_nul(request):
                return refusal(request, 400, _("Text must not contain NUL characters."))
        except RequestDataTooBig:
            return refusal(request, 413, too_large_message())
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, RequestDataTooBig):
            return refusal(request, 413, too_large_message())
        if backend_unavailable(exception):  # Redis out of reach: retry later, not a 500
            return refusal(
                request,
                503,
                _("A backing service is unavailable; try again shortly."),
                **{"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        return None
