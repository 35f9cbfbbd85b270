"""Conversation lists, search and detail."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chats.api.base import (
    ERRORS,
    ApiMixin,
    StrictPageSize,
    conversation_context,
    gated_rows,
    parse_query,
)
from chats.filters import ConversationFilter, StableOrderingFilter
from chats.models import Conversation
from chats.selectors import (
    conversation_for,
    search_conversations,
    visible_conversations,
)
from chats.serializers import (
    ConversationDetailSerializer,
    ConversationSerializer,
    SearchQuerySerializer,
)

# --- conversations ---------------------------------------------------------------------


class ConversationPagination(StrictPageSize, CursorPagination):
    """Cursor pages on `created_at` (or `updated_at`), with the id as a tie-breaker.

    Not the operator UI's working order (priority, waiting since, last message): a cursor
    needs an order that a row keeps while the client pages, and the working order changes
    with every message (a row would move between pages, skipped or seen twice), spans several
    columns in mixed directions that DRF's cursor cannot seek on, and the UI pages it by
    offset over a short list anyway. `created_at` never changes; `updated_at` is for
    incremental pulls (`updated_since`). Both are read from indexes (chats.0007).
    """

    ordering = ("-created_at", "-id")
    page_size_query_param = "page_size"
    max_page_size = 200


class _ConversationListBase(ApiMixin, generics.ListAPIView):
    serializer_class = ConversationSerializer
    pagination_class = ConversationPagination
    ordering_fields = ["created_at", "updated_at"]
    ordering = ["-created_at"]

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), **conversation_context(self.request.user)}


@extend_schema_view(
    get=extend_schema(
        summary="List conversations",
        description="Every conversation you may see, narrowed by the filters. Newest first "
        "(`ordering=-created_at`); `ordering=updated_at` with `updated_since` pulls changes "
        "incrementally, oldest change first. Cursor-paginated: follow `next`.",
        tags=["conversations"],
    )
)
class ConversationListView(_ConversationListBase):
    filter_backends = [DjangoFilterBackend, StableOrderingFilter]
    filterset_class = ConversationFilter

    def get_queryset(self) -> QuerySet[Conversation]:
        return gated_rows(visible_conversations(self.request.user))


@extend_schema_view(
    get=extend_schema(
        summary="Search conversations",
        description="Conversations you may see whose customer name, identity (phone, e-mail, "
        "handle) or message text matches `q`. Ordered and paginated like the list.",
        parameters=[
            OpenApiParameter(
                "q",
                # Not only blanks: the value is trimmed (Unicode spaces too) before use.
                {"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"\S"},
                required=True,
                description="Customer name, phone, e-mail or handle, or words of a message.",
            )
        ],
        responses={200: ConversationSerializer(many=True), 400: ERRORS[400]},
        tags=["conversations"],
    )
)
class SearchView(_ConversationListBase):
    filter_backends = [StableOrderingFilter]
    queryset = Conversation.objects.none()  # the model, for the schema; rows come from get()

    def get(self, request: Request) -> Response:
        query = parse_query(SearchQuerySerializer, request)
        rows = self.filter_queryset(gated_rows(search_conversations(request.user, query["q"])))
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class ConversationDetailView(ApiMixin, APIView):
    @extend_schema(
        summary="One conversation",
        description="With the customer's identities. Deleted conversations only for roles "
        "that may restore them.",
        responses={200: ConversationDetailSerializer, 404: ERRORS[404]},
        tags=["conversations"],
    )
    def get(self, request: Request, pk: int) -> Response:
        conversation = conversation_for(request.user, pk, include_deleted=True)
        context = conversation_context(request.user)
        return Response(ConversationDetailSerializer(conversation, context=context).data)
