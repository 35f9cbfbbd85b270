"""One mapping from the errors our services raise to API answers, for every app's API
(`REST_FRAMEWORK["EXCEPTION_HANDLER"]`): bad input is a 400 with the message, a refusal in
the current state a 409, a role without the right a 403, something missing a 404. Nothing
half-done is kept: each of these rolls the request's transaction back."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler, set_rollback


class Refused(Exception):
    """The action does not fit the current state (answered as 409). Each app's refusal
    (`chats...ActionRefused`, `customers.loyalty.LoyaltyRefused`) is one of these."""


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
    return exception_handler(exc, context)
