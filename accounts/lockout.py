"""Sign-in throttling and lockout, done by django-axes.

django-axes counts failed sign-ins in its own tables (AccessAttempt, AccessFailureLog, both in
the admin) and refuses a locked username or address before the password is checked. This
module holds what axes asks the project for: the backend, the client address, the lockout
answer (a page, or JSON for API callers), and the audit entry for the locked user.
"""

from __future__ import annotations

import math
from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_cool_off
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext


class LockoutBackend(AxesStandaloneBackend):
    """Refuses a sign-in while its username or address is locked out.

    A sign-in over HTTP (the login page, the admin's) always passes its request. Without a
    request there is no client to throttle (the test client's ``login()``, a management
    command): axes would raise, so this backend steps aside and the next one decides.
    """

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def client_ip(request: HttpRequest) -> str | None:
    """The caller's address. Behind `TRUSTED_PROXY_COUNT` reverse proxies (each appending to
    X-Forwarded-For), the address the outermost trusted proxy saw; entries further left are
    the client's own claims and are not trusted."""
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies > 0:
        chain = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(chain) >= proxies:
            return chain[-proxies]
    return request.META.get("REMOTE_ADDR") or None


def _wants_json(request: HttpRequest) -> bool:
    accept = request.headers.get("Accept", "")
    return (
        request.path_info.startswith("/api/")
        or request.headers.get("X-Requested-With") == "XMLHttpRequest"
        or ("application/json" in accept and "text/html" not in accept)
    )


def lockout_response(
    request: HttpRequest, response: Any = None, credentials: Any = None
) -> HttpResponse:
    """What a locked-out sign-in gets: 429 with a page, or a JSON body for API callers.

    (axes calls this with ``(request, response, credentials)``, and from its async
    middleware with ``(request, credentials)``; neither is needed here.)
    """
    cool_off = get_cool_off(request)
    minutes = math.ceil(cool_off.total_seconds() / 60) if cool_off else None
    if minutes:
        message = ngettext(
            "Too many failed sign-in attempts. Sign-in is locked; try again in %(minutes)d "
            "minute or ask an administrator to unlock it.",
            "Too many failed sign-in attempts. Sign-in is locked; try again in %(minutes)d "
            "minutes or ask an administrator to unlock it.",
            minutes,
        ) % {"minutes": minutes}
    else:
        message = _(
            "Too many failed sign-in attempts. Sign-in is locked until an administrator unlocks it."
        )
    status = settings.AXES_HTTP_RESPONSE_CODE
    if _wants_json(request):
        answer: HttpResponse = JsonResponse(
            {"detail": message, "code": "locked_out"}, status=status
        )
    else:
        answer = render(request, "accounts/locked_out.html", {"message": message}, status=status)
    if cool_off:
        answer["Retry-After"] = str(int(cool_off.total_seconds()))
    return answer
