"""Conversation actions, each one service call: assign, transfer, snooze, close..."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chats.api.base import (
    ERRORS,
    REFUSED,
    ApiMixin,
    conversation_data,
    parse,
    time_zone_of,
)
from chats.models import Conversation
from chats.selectors import (
    conversation_for,
)
from chats.serializers import (
    AssignSerializer,
    ConversationSerializer,
    DeleteSerializer,
    ErrorSerializer,
    PrioritySerializer,
    SnoozeSerializer,
    TransferSerializer,
)
from chats.services.conversations import (
    conversation_assign,
    conversation_close,
    conversation_close_undo,
    conversation_delete,
    conversation_reopen,
    conversation_restore,
    conversation_set_priority,
    conversation_snooze,
    conversation_transfer,
    conversation_unassign,
    conversation_unsnooze,
)
from chats.snooze import snooze_until

# --- conversation actions --------------------------------------------------------------


class ConversationActionView(ApiMixin, APIView):
    """POST /conversations/<id>/<action>/: gate, parse the body, one service call, answer the
    updated conversation. The gate comes first, so a conversation you may not see is a 404
    whatever the body says."""

    body: type[serializers.Serializer] | None = None
    include_deleted = False

    def post(self, request: Request, pk: int) -> Response:
        conversation = conversation_for(
            request.user, pk, include_deleted=self.include_deleted, for_write=True
        )
        data = parse(self.body, request.data) if self.body is not None else {}
        updated = self.act(conversation=conversation, data=data, actor=request.user)
        return Response(conversation_data(updated, request.user))

    def act(self, *, conversation: Conversation, data: dict[str, Any], actor: Any) -> Conversation:
        raise NotImplementedError


def _action(
    summary: str,
    body: type[serializers.Serializer] | None,
    description: str = "",
    responses: dict[int, Any] | None = None,
):
    return extend_schema_view(
        post=extend_schema(
            summary=summary,
            description=description,
            request=body,
            responses={200: ConversationSerializer, **ERRORS, **REFUSED, **(responses or {})},
            tags=["conversation actions"],
        )
    )


@_action("Assign", AssignSerializer, "To `operator`, or to the caller when it is omitted.")
class AssignView(ConversationActionView):
    body = AssignSerializer

    def act(self, *, conversation: Conversation, data: dict[str, Any], actor: Any) -> Conversation:
        operator = data.get("operator") or actor
        return conversation_assign(conversation=conversation, operator=operator, actor=actor)


@_action("Unassign", None, "Back to the team's queue.")
class UnassignView(ConversationActionView):
    def act(self, *, conversation: Conversation, data: dict[str, Any], actor: Any) -> Conversation:
        return conversation_unassign(conversation=conversation, actor=actor)


@_action(
    "Transfer",
    TransferSerializer,
    "To another team (its queue) and/or operator, with a reason.",
)
class TransferView(ConversationActionView):
    body = TransferSerializer

    def act(self, *, conversation: Conversation, data: dict[str, Any], actor: Any) -> Conversation:
        return conversation_transfer(
            conversation=conversation,
            actor=actor,
            reason=data["reason"],
            team=data.get("team"),
            operator=data.get("operator"),
            topic=data.get("topic"),
        )


@_action("Set the priority", PrioritySerializer)
class PriorityView(ConversationActionView):
    body = PrioritySerializer

    def act(self, *, conversation: Conversation, data: dict[str, Any], actor: Any) -> Conversation:
        return conversation_set_priority(
            conversation=conversation, priority=data["priority"], actor=actor
        )


@_action(
    "Snooze",
    SnoozeSerializer,
    "Until a preset time in the caller's time zone, a custom time, or the customer's reply.",
)
class SnoozeView(ConversationActionView):
    body = SnoozeSerializer

    def act(self, *, conversation: Conversation, data: dict[str, Any], actor: Any) -> Conversation:
        now = timezone.now()
        until = snooze_until(
            data["preset"], now=now, tz=time_zone_of(actor), custom=data.get("until")
        )
        return conversation_snooze(
            conversation=conversation,
            actor=actor,
            until=until,
            wake_on_reply=data["wake_on_reply"],
            reason=data["reason"],
            now=now,
        )


@_action("Wake up", None)
class UnsnoozeView(ConversationActionView):
    def act(self, *, conversation: Conversation, data: dict[str, Any], actor: Any) -> Conversation:
        return conversation_unsnooze(conversation=conversation, actor=actor)


@_action("Close", None)
class CloseView(ConversationActionView):
    def act(self, *, conversation: Conversation, data: dict[str, Any], actor: Any) -> Conversation:
        return conversation_close(conversation=conversation, actor=actor)


@_action(
    "Undo a close",
    None,
    "Within `CLOSE_UNDO_SECONDS` of the close: back to the state before it (status, snooze, "
    "operator); nothing was sent to the customer yet. Later: 409, reopen instead.",
)
class UndoCloseView(ConversationActionView):
    def act(self, *, conversation: Conversation, data: dict[str, Any], actor: Any) -> Conversation:
        return conversation_close_undo(conversation=conversation, actor=actor)


@_action("Reopen", None)
class ReopenView(ConversationActionView):
    def act(self, *, conversation: Conversation, data: dict[str, Any], actor: Any) -> Conversation:
        return conversation_reopen(conversation=conversation, actor=actor)


@_action("Delete", DeleteSerializer, "A soft delete; roles that may restore it still see it.")
class DeleteView(ConversationActionView):
    body = DeleteSerializer

    def act(self, *, conversation: Conversation, data: dict[str, Any], actor: Any) -> Conversation:
        return conversation_delete(conversation=conversation, actor=actor, reason=data["reason"])


@_action(
    "Restore",
    None,
    "Undo a delete. For a role that may not restore, a deleted conversation does not exist "
    "(404), and restoring one it can see is forbidden (403).",
    {403: OpenApiResponse(ErrorSerializer, description="Your role may not restore.")},
)
class RestoreView(ConversationActionView):
    include_deleted = True  # the gate honours it only for roles that may restore

    def act(self, *, conversation: Conversation, data: dict[str, Any], actor: Any) -> Conversation:
        return conversation_restore(conversation=conversation, actor=actor)
