"""The inbound channel API of `api` inboxes, authenticated by the inbox's secret."""

from __future__ import annotations

import hmac
from typing import Any

from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chats.api.base import (
    ERRORS,
    ApiMixin,
    parse,
)
from chats.models import Inbox
from chats.selectors import inbox_for_key
from chats.serializers import (
    ErrorSerializer,
    InboundMessageSerializer,
    InboundResultSerializer,
)
from chats.services.messages import message_receive_from_channel
from smartdesk.core.parsers import BoundedJSONParser

# --- inbound channel API ---------------------------------------------------------------


class InboxSecretPermission(BasePermission):
    """`Authorization: Bearer <inbox secret>`, compared in constant time. An unknown inbox is
    a 404; an inactive one, or a wrong or missing secret, a 403."""

    message = gettext_lazy("Wrong or missing inbox secret.")

    def has_permission(self, request: Request, view: Any) -> bool:
        inbox = view.get_inbox()
        scheme, _sep, token = request.headers.get("Authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or not inbox.secret:
            return False
        if not hmac.compare_digest(token.encode(), inbox.secret.encode()):
            return False
        # Only a caller holding the secret learns that the inbox is switched off.
        if not inbox.is_active:
            self.message = _("This inbox is not active.")
            return False
        return True


@method_decorator(csrf_exempt, name="dispatch")
class InboundMessageView(ApiMixin, APIView):
    """A channel of your own posts its customers' messages to an inbox of kind `api`.

    No user and no session: the inbox's secret is the credential, so CSRF does not apply.
    """

    authentication_classes: list[Any] = []
    # No user is needed (AllowAny); the inbox's secret is checked by its own permission.
    permission_classes = [AllowAny, InboxSecretPermission]
    parser_classes = [BoundedJSONParser]  # size, depth and NUL bounds

    def get_inbox(self) -> Inbox:
        if not hasattr(self, "_inbox"):
            self._inbox = inbox_for_key(self.kwargs["key"], kind=Inbox.Kind.API)
        return self._inbox

    @extend_schema(
        summary="Post a customer's message (channel API)",
        description="For inboxes of kind `api`, authenticated by the inbox's secret: "
        "`Authorization: Bearer <secret>`. Idempotent on `external_id`: 201 with "
        "`created: true` for a new message; a repeat answers 200 with `created: false` "
        "and changes nothing.",
        request=InboundMessageSerializer,
        responses={
            201: InboundResultSerializer,
            200: InboundResultSerializer,
            400: ERRORS[400],
            403: OpenApiResponse(ErrorSerializer, description="Wrong secret or inactive inbox."),
            404: OpenApiResponse(ErrorSerializer, description="No such inbox."),
        },
        auth=[],
        tags=["channel API"],
    )
    def post(self, request: Request, key: str) -> Response:
        data = parse(InboundMessageSerializer, request.data)
        who = data["customer"]
        message, created = message_receive_from_channel(
            inbox=self.get_inbox(),
            identity_kind=who["kind"],
            identity_value=who["value"],
            first_name=who.get("first_name", ""),
            last_name=who.get("last_name", ""),
            language=who.get("language", ""),
            body=data["text"],
            external_id=data["external_id"],
            attachments=[dict(a) for a in data.get("attachments", [])],
        )
        result = {
            "message_id": message.pk,
            "conversation_id": message.conversation_id,
            "created": created,
        }
        return Response(
            InboundResultSerializer(result).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )
