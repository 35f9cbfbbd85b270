"""A conversation's messages: list, create (reply or note), delete."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chats.api.base import (
    ERRORS,
    REFUSED,
    ApiMixin,
    StrictPageSize,
    message_context,
    parse,
)
from chats.api.templates import template_text
from chats.models import Message
from chats.selectors import (
    conversation_for,
    message_for,
    thread_messages_queryset,
)
from chats.serializers import (
    MessageCreateSerializer,
    MessageSerializer,
)
from chats.services.messages import (
    message_delete,
    message_note,
    message_reply,
)
from smartdesk.core.openapi import constrain

# --- messages --------------------------------------------------------------------------


# MessageCreateSerializer.validate: a text and a template together are refused.
constrain(
    "MessageCreate",
    **{
        "not": {
            "required": ["body", "template_id"],
            "properties": {
                "body": {"type": "string", "pattern": r"\S"},
                "template_id": {"type": "integer"},
            },
        }
    },
)


class MessagePagination(StrictPageSize, CursorPagination):
    ordering = ("-created_at", "-id")
    page_size_query_param = "page_size"
    max_page_size = 200


class ConversationMessagesView(ApiMixin, generics.GenericAPIView):
    serializer_class = MessageSerializer
    pagination_class = MessagePagination
    filter_backends: list[Any] = []
    queryset = Message.objects.none()  # the model, for the schema; rows come from get()

    @extend_schema(
        summary="A conversation's messages",
        description="Newest first: the first page is the latest messages, `next` goes back in "
        "time. Deleted messages (with `deleted_at`, `deleted_by`) only for roles that may "
        "see them.",
        responses={200: MessageSerializer(many=True), 404: ERRORS[404]},
        tags=["messages"],
    )
    def get(self, request: Request, pk: int) -> Response:
        conversation = conversation_for(request.user, pk, include_deleted=True)
        page = self.paginate_queryset(thread_messages_queryset(request.user, conversation))
        data = MessageSerializer(page, many=True, context=message_context(request.user)).data
        return self.get_paginated_response(data)

    @extend_schema(
        summary="Reply or add a note",
        description="`reply` goes to the customer (queued for delivery; an unassigned "
        "conversation is taken by its author); `note` is internal. Send `body`, or "
        "`template_id` to send that template rendered for this conversation.",
        request=MessageCreateSerializer,
        responses={201: MessageSerializer, **ERRORS, **REFUSED},
        tags=["messages"],
    )
    def post(self, request: Request, pk: int) -> Response:
        conversation = conversation_for(request.user, pk, for_write=True)
        data = parse(MessageCreateSerializer, request.data)
        body = data["body"]
        if data.get("template_id") is not None:
            body = template_text(request.user, conversation, data["template_id"])
        if data["kind"] == "reply":
            message = message_reply(conversation=conversation, author=request.user, body=body)
        else:
            message = message_note(conversation=conversation, author=request.user, body=body)
        context = message_context(request.user)
        return Response(MessageSerializer(message, context=context).data, status=201)


class MessageDetailView(ApiMixin, APIView):
    @extend_schema(
        summary="Delete a message",
        description="A soft delete: roles that may see deleted messages still see it.",
        request=None,
        responses={204: None, 404: ERRORS[404]},
        tags=["messages"],
    )
    def delete(self, request: Request, pk: int) -> Response:
        message_delete(message=message_for(request.user, pk, for_write=True), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
