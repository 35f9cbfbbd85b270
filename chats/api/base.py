"""Shared pieces of the chats API: the caller's preferences, parsing, the documented error
answers, and the gated querysets and contexts every view serialises with. Errors are turned
into answers for every app's API by `smartdesk.core.api_errors` (the DRF exception handler)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.access import Capability, has_capability, profile_of
from chats.models import Conversation
from chats.selectors import (
    with_effective_status,
    with_row_columns,
)
from chats.serializers import (
    ConversationSerializer,
    ErrorSerializer,
)

# --- preferences, parsing ---------------------------------------------------------------


class ApiMixin:
    """Every view of the chats API: the caller's language and time zone.

    The preferences middleware runs before DRF authenticates a token, so it only knows
    session users; this does the same for every authenticated caller. Naive datetimes in a
    request are then read, and datetimes in the answer written, in the caller's time zone.
    """

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        profile = profile_of(request.user)
        if profile is not None:
            timezone.activate(profile.time_zone)  # the middleware deactivates it afterwards
            if profile.language:
                self._language_before = translation.get_language()
                translation.activate(profile.language)

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        # The answer's texts are final by now; the thread must not keep this caller's language.
        if hasattr(self, "_language_before"):
            translation.activate(self._language_before)
        return response


def parse(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def parse_query(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    """The query string, one value a parameter, as the schema describes it: an empty value is
    a value (`?conversation=` is a 400). DRF's form reading would drop it for an optional
    field, so a client's empty id silently meant "none"."""
    return parse(serializer_class, request.query_params.dict())


def time_zone_of(user: Any) -> ZoneInfo:
    profile = profile_of(user)
    return ZoneInfo(profile.time_zone if profile is not None else "UTC")


class StrictPageSize:
    """A CursorPagination mixin: `page_size` must be an integer (400 otherwise).

    DRF falls back to the default page size for anything it cannot read (`page_size=null`),
    so a client's mistake went unnoticed. An integer out of range still gets the default
    (below 1) or the maximum (above it), as documented by DRF.
    """

    def get_page_size(self, request: Request) -> int | None:
        param = getattr(self, "page_size_query_param", None)
        value = request.query_params.get(param) if param else None
        if value is not None:
            try:
                int(value)
            except ValueError:
                raise ValidationError({param: [_("Enter a whole number.")]}) from None
        return super().get_page_size(request)  # type: ignore[misc]


# The error answers the views document (`smartdesk.core.api_errors` produces them).
ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Bad input; nothing changed."),
    404: OpenApiResponse(ErrorSerializer, description="No such conversation (or not yours)."),
}
REFUSED = {409: OpenApiResponse(ErrorSerializer, description="Not in this state; nothing changed.")}


# --- shared by the views ---


def gated_rows(conversations: QuerySet[Conversation]) -> QuerySet[Conversation]:
    """A gated queryset, ready to serialise: effective status, references in one query (the
    columns the references show)."""
    return with_row_columns(with_effective_status(conversations))


def conversation_context(user: Any) -> dict[str, Any]:
    return {
        "user": user,
        "can_see_deleted": has_capability(user, Capability.RESTORE_CONVERSATIONS),
    }


def conversation_data(conversation: Conversation, user: Any) -> dict[str, Any]:
    return ConversationSerializer(conversation, context=conversation_context(user)).data


def message_context(user: Any) -> dict[str, Any]:
    return {"can_see_deleted": has_capability(user, Capability.VIEW_DELETED_MESSAGES)}
