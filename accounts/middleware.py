from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation

from accounts.access import profile_of


class UserPreferencesMiddleware:
    """Activates the signed-in user's language and time zone for the request.

    Runs after authentication; anonymous visitors keep what LocaleMiddleware chose
    (the language cookie, then the browser's Accept-Language).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        profile = profile_of(request.user)
        if profile is not None:
            if profile.language:
                translation.activate(profile.language)
                request.LANGUAGE_CODE = profile.language
            timezone.activate(profile.time_zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
