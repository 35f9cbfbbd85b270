"""`/api/v1/client/<inbox key>/…`: the API of the website widget and the mobile app.

- `POST session/`  — an anonymous visitor token (widget).
- `POST identify/` — a verified customer token: HMAC of user_id / email / phone, signed with
  the inbox secret on the host's or app's server. With a visitor token, the visitor's history
  follows them.
- `GET messages/?after=<id>` — the customer's history in this inbox (the REST fallback of the
  WebSocket), oldest first.
- `POST messages/` — send a message (JSON, or multipart with a `file`); idempotent on the
  client's `client_id`. Starts a conversation or continues the open one (docs/channels.md).

Authenticated by `Authorization: Bearer <client token>`; browsers are held to the inbox's
allowed origins (CORS answered here), and every caller to rate limits.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chats import selectors
from chats.api.base import ApiMixin, parse
from chats.channels import ratelimit
from chats.channels.attachments import attachment_check, attachment_store, guess_type
from chats.channels.client.delivery import client_message_data
from chats.channels.client.language import LanguageField, language_source_field, said_language
from chats.channels.client.sessions import (
    ClientSession,
    session_from_token,
    session_identify,
    session_start,
)
from chats.models import Conversation, Inbox, Message
from chats.selectors.queues import queue_status
from chats.serializers import ErrorSerializer
from chats.services.messages import DuplicateDelivery, message_receive
from customers.languages import customer_language_set
from customers.models import LanguageSource
from smartdesk.core.parsers import BoundedJSONParser

CLIENT_KINDS = (Inbox.Kind.WIDGET, Inbox.Kind.MOBILE)
HISTORY_LIMIT = 100


class SessionSerializer(serializers.Serializer):
    language = LanguageField()
    language_source = language_source_field()


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send as `Authorization: Bearer <token>`.")
    customer_id = serializers.IntegerField(allow_null=True)


class IdentifySerializer(serializers.Serializer):
    user_id = serializers.CharField(required=False, allow_blank=True, max_length=200)
    email = serializers.CharField(required=False, allow_blank=True, max_length=254)
    phone = serializers.CharField(required=False, allow_blank=True, max_length=40)
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    signature = serializers.CharField(
        max_length=128, help_text="Hex HMAC-SHA256 of the identity, with the inbox secret."
    )
    language = LanguageField()
    language_source = language_source_field()


class ClientMessageSerializer(serializers.Serializer):
    client_id = serializers.CharField(
        max_length=64, help_text="Your id for this message: a retry with it stores nothing new."
    )
    text = serializers.CharField(required=False, allow_blank=True, default="", max_length=10_000)
    file = serializers.FileField(required=False, allow_empty_file=False)
    language = LanguageField()
    language_source = language_source_field()


def _client_ip(request: Request) -> str:
    """The caller's address for rate limits. Behind `TRUSTED_PROXY_COUNT` reverse proxies
    (each appending to X-Forwarded-For), the address the outermost trusted proxy saw;
    entries further left are the client's own claims and are not trusted."""
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies > 0:
        chain = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(chain) >= proxies:
            return chain[-proxies]
    return request.META.get("REMOTE_ADDR", "") or "unknown"


@method_decorator(csrf_exempt, name="dispatch")
class ClientView(ApiMixin, APIView):
    """Shared: the inbox from the URL, the origin allow-list with CORS, the client token."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    parser_classes = [BoundedJSONParser]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        self.inbox = self._inbox(kwargs["key"])
        self._check_origin(request)

    def _inbox(self, key: str) -> Inbox:
        inbox = Inbox.objects.filter(key=key, kind__in=CLIENT_KINDS, is_active=True).first()
        if inbox is None:
            raise exceptions.NotFound(_("No such inbox."))
        return inbox

    def _check_origin(self, request: Request) -> None:
        origin = request.headers.get("Origin")
        if origin and origin.rstrip("/").lower() not in self.inbox.origins:
            raise exceptions.PermissionDenied(
                _("This website is not allowed to use this chat (origin %(origin)s).")
                % {"origin": origin}
            )

    def options(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(status=status.HTTP_204_NO_CONTENT)

    def finalize_response(
        self, request: Request, response: Any, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        origin = request.headers.get("Origin")
        inbox = getattr(self, "inbox", None)
        if origin and inbox is not None and origin.rstrip("/").lower() in inbox.origins:
            response["Access-Control-Allow-Origin"] = origin
            response["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
            response["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
            response["Access-Control-Max-Age"] = "600"
        response["Vary"] = "Origin"
        return response

    def get_authenticate_header(self, request: Request) -> str:
        # A missing or bad client token is a 401 that names the scheme, not a bare 403.
        return 'Bearer realm="smartdesk-client"'

    def get_session(self, request: Request) -> ClientSession:
        scheme, _sep, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise exceptions.NotAuthenticated(_("A client token is required."))
        try:
            return session_from_token(inbox=self.inbox, token=token.strip())
        except PermissionDenied as refusal:
            raise exceptions.AuthenticationFailed(str(refusal)) from None

    def limit(self, key: str, *, limit: int, window: int, message: str) -> None:
        if not ratelimit.allow(f"{self.inbox.pk}:{key}", limit=limit, window_seconds=window):
            raise exceptions.Throttled(wait=window, detail=message)


class SessionView(ClientView):
    @extend_schema(
        summary="Start an anonymous visitor session (widget)",
        description="`language` (else the first of Accept-Language): the visitor's language, "
        "stored on the customer their first message creates. `language_source: page` when "
        "the host page set it on purpose; otherwise it is a guess that never replaces a "
        "language set on purpose.",
        request=SessionSerializer,
        responses={
            201: TokenSerializer,
            403: OpenApiResponse(ErrorSerializer),
            429: ErrorSerializer,
        },
        auth=[],
        tags=["client API"],
    )
    def post(self, request: Request, key: str) -> Response:
        self.limit(
            f"session:{_client_ip(request)}",
            limit=settings.CLIENT_RATE_SESSIONS_PER_HOUR,
            window=3600,
            message=_("Too many new chats from this address; try again later."),
        )
        data = parse(SessionSerializer, request.data or {})
        language, source = said_language(self.inbox, data, request)
        session = session_start(inbox=self.inbox, language=language, language_source=source)
        return Response({"token": session.token(), "customer_id": None}, status=201)


class IdentifyView(ClientView):
    @extend_schema(
        summary="Identify the customer with a signed identity",
        description="`signature` = hex HMAC-SHA256, keyed with the inbox secret, of the lines "
        "`user_id=…`, `email=…`, `phone=…` (those given, in this order, joined by `\\n`). "
        "With a visitor token in `Authorization`, the visitor's history joins the customer.",
        request=IdentifySerializer,
        responses={200: TokenSerializer, 400: ErrorSerializer, 403: ErrorSerializer},
        auth=[],
        tags=["client API"],
    )
    def post(self, request: Request, key: str) -> Response:
        self.limit(
            f"identify:{_client_ip(request)}",
            limit=settings.CLIENT_RATE_SESSIONS_PER_HOUR,
            window=3600,
            message=_("Too many attempts; try again later."),
        )
        data = parse(IdentifySerializer, request.data)
        session = self.get_session(request) if "Authorization" in request.headers else None
        values = {k: str(data.get(k) or "").strip() for k in ("user_id", "email", "phone")}
        language, source = said_language(self.inbox, data, request)
        try:
            identified = session_identify(
                inbox=self.inbox,
                values=values,
                signature=data["signature"],
                name=data.get("name", ""),
                session=session,
                language=language,
                language_source=source,
            )
        except PermissionDenied as refusal:
            raise exceptions.PermissionDenied(str(refusal)) from None
        customer = identified.customer
        return Response(
            {"token": identified.token(), "customer_id": customer.pk if customer else None}
        )


class MessagesView(ClientView):
    parser_classes = [BoundedJSONParser, MultiPartParser, FormParser]

    @extend_schema(
        summary="The customer's messages in this inbox",
        description="Oldest first; `after` returns only newer ones (the polling fallback).",
        responses={200: OpenApiResponse(description="messages, conversation, queue")},
        auth=[],
        tags=["client API"],
    )
    def get(self, request: Request, key: str) -> Response:
        session = self.get_session(request)
        try:
            after = int(request.query_params.get("after") or 0)
        except ValueError:
            raise ValidationError(_("`after` must be a message id.")) from None
        customer = session.customer
        if customer is None:
            return Response({"messages": [], "conversation": None})
        messages = list(
            Message.objects.filter(
                inbox=self.inbox,
                conversation__customer=customer,
                conversation__deleted_at__isnull=True,
                deleted_at__isnull=True,
                kind__in=[Message.Kind.INBOUND, Message.Kind.OUTBOUND],
                pk__gt=after,
            )
            .select_related("author")
            .order_by("pk")[:HISTORY_LIMIT]
        )
        conversation = (
            Conversation.objects.filter(
                inbox=self.inbox, customer=customer, deleted_at__isnull=True
            )
            .order_by("-created_at")
            .first()
        )
        return Response(
            {
                "messages": [client_message_data(m) for m in messages],
                "conversation": _conversation_data(conversation),
            }
        )

    @extend_schema(
        summary="Send a message as the customer",
        request={
            "application/json": ClientMessageSerializer,
            "multipart/form-data": ClientMessageSerializer,
        },
        responses={
            201: OpenApiResponse(description="the message"),
            200: OpenApiResponse(description="a repeat: the stored message"),
            400: ErrorSerializer,
            429: ErrorSerializer,
        },
        auth=[],
        tags=["client API"],
    )
    def post(self, request: Request, key: str) -> Response:
        session = self.get_session(request)
        self.limit(
            f"messages:{session.subject}",
            limit=settings.CLIENT_RATE_MESSAGES_PER_MINUTE,
            window=60,
            message=_("You are sending messages too fast; wait a moment."),
        )
        data = parse(ClientMessageSerializer, request.data)
        language, source = said_language(self.inbox, data)
        attachments = []
        upload = data.get("file")
        if upload is not None:
            content_type = guess_type(upload.name, getattr(upload, "content_type", ""))
            attachment_check(name=upload.name, size=upload.size, content_type=content_type)
            attachments.append(
                attachment_store(name=upload.name, content=upload.read(), content_type=content_type)
            )
        message, created = client_message_post(
            session=session,
            client_id=data["client_id"],
            text=data["text"],
            attachments=attachments,
            language=language,
            language_source=source,
        )
        return Response(
            {"message": client_message_data(message), "created": created},
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


def client_message_post(
    *,
    session: ClientSession,
    client_id: str,
    text: str,
    attachments: list[dict[str, Any]],
    language: str = "",
    language_source: int = LanguageSource.HINT,
) -> tuple[Message, bool]:
    """Store the customer's message, all or nothing; a repeat (or a racing duplicate) of the
    same client id returns the stored one. A `language` the client names is stored on the
    customer by its `language_source`'s rank (customers.languages; none changes nothing)."""
    external_id = f"client:{session.subject}:{client_id}"[:128]
    try:
        with transaction.atomic():
            customer = session.customer_or_create()
            customer_language_set(customer=customer, language=language, source=language_source)
            return message_receive(
                inbox=session.inbox,
                customer=customer,
                body=text,
                external_id=external_id,
                attachments=attachments,
            )
    except DuplicateDelivery:
        return Message.objects.get(inbox=session.inbox, external_id=external_id), False


def _conversation_data(conversation: Conversation | None) -> dict[str, Any] | None:
    if conversation is None:
        return None
    return {
        "id": conversation.pk,
        "status": selectors.effective_status(conversation),
        "queue": queue_info(conversation),
    }


def queue_info(conversation: Conversation) -> dict[str, Any] | None:
    """Where the customer stands in the team queue and the estimated wait, from the
    distribution selectors (`chats.selectors.queue_status`, docs/distribution.md). None
    when the conversation is not waiting in a queue."""
    found = queue_status(conversation)
    if found is None:
        return None
    return {"position": found.position, "estimated_wait_seconds": found.estimated_wait_seconds}
