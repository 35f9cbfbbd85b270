"""One mapping from the errors our services raise to API answers, for every app's API
(`REST_FRAMEWORK["EXCEPTION_HANDLER"]`): bad input is a 400 with the message, a refusal in
the current state a 409, a role without the right a 403, something missing a 404. Nothing
half-done is kept: each of these rolls the request's transaction back."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler, set_rollback

from smartdesk.core.parsers import too_large_message


class Refused(Exception):
    """The action does not fit the current state (answered as 409). Each app's refusal
    (`chats...ActionRefused`, `customers.loyalty.LoyaltyRefused`) is one of these."""


# Seconds a client is asked to wait when Redis (cache, broker) is out of reach.
RETRY_AFTER_SECONDS = 5


def backend_unavailable(exc: BaseException) -> bool:
    """Redis (the cache, the channel layer, the Celery broker) is out of reach."""
    from kombu.exceptions import OperationalError
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    return isinstance(exc, RedisConnectionError | RedisTimeoutError | OperationalError)


def unavailable_response() -> Response:
    """503 with Retry-After: nothing half-done was kept, and a retry is safe (every ingest
    is idempotent on the channel's own id)."""
    return Response(
        {"detail": _("A backing service is unavailable; try again shortly.")},
        status=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        set_rollback()
        messages = exc.messages
        return Response(
            {"detail": messages[0] if len(messages) == 1 else messages},
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, Refused):
        set_rollback()
        return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, DjangoPermissionDenied):
        set_rollback()
        return Response(
            {"detail": str(exc) or _("Your role does not allow this.")},
            status=status.HTTP_403_FORBIDDEN,
        )
    if isinstance(exc, ObjectDoesNotExist):
        set_rollback()
        return Response({"detail": str(exc)}, status=status.HTTP_404_NOT_FOUND)
    if backend_unavailable(exc):
        set_rollback()
        return unavailable_response()
    if isinstance(exc, RequestDataTooBig):  # a view read `request.body` past the limit
        set_rollback()
        return Response(
            {"detail": too_large_message()},
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    return exception_handler(exc, context)
