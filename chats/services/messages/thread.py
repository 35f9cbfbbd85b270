"""Messages written in the thread: an operator's reply and note, a deletion, Smartdesk's own
system lines. A reply is stored as queued; `delivery` hands it to the channel."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from chats.events import publish_conversation_changed, publish_message
from chats.models import Conversation, ConversationEvent, Message
from chats.services.common import ActionRefused, _locked, _record
from chats.services.conversations.assignment import conversation_assign
from chats.services.messages.common import Kind, Status, _clean_body, _preview
from smartdesk.core.oncommit import after_commit
from smartdesk.core.updates import model_update


@transaction.atomic
def message_reply(
    *,
    conversation: Conversation,
    author: Any,
    body: str,
    attachments: Sequence[dict[str, Any]] = (),
) -> Message:
    """An operator's answer to the customer: stored as queued, delivered by a task after commit.

    An unassigned conversation is taken by the one who answers it.
    """
    body = _clean_body(body, attachments)
    locked = _locked(conversation)
    if locked.deleted_at is not None:
        raise ActionRefused(_("This conversation was deleted."))
    if locked.status == Status.CLOSED:
        raise ActionRefused(_("Reopen the conversation to answer it."))
    if locked.assignee_id is None:
        locked = conversation_assign(conversation=locked, operator=author, actor=author)
    message = Message.objects.create(
        conversation=locked,
        inbox_id=locked.inbox_id,
        kind=Kind.OUTBOUND,
        author=author,
        body=body,
        attachments=list(attachments),
        delivery_status=Message.Delivery.QUEUED,
    )
    model_update(
        locked,
        last_message_at=message.created_at,
        last_message_preview=_preview(body, attachments),
        waiting_since=None,
        first_response_at=locked.first_response_at or message.created_at,
    )
    publish_message(message)
    publish_conversation_changed(locked, change="message")
    from chats.channels.tasks import deliver_reply

    # The row is the outbox: if this enqueue fails or the task is lost, the sweep finds the
    # reply still queued (`message_delivery_due`) and queues it again within a minute.
    after_commit(deliver_reply.delay, message.pk, name="deliver-reply")
    return message


@transaction.atomic
def message_note(*, conversation: Conversation, author: Any, body: str) -> Message:
    """An internal note: seen by colleagues only, never delivered to the customer."""
    body = _clean_body(body, ())
    locked = _locked(conversation)
    if locked.deleted_at is not None:
        raise ActionRefused(_("This conversation was deleted."))
    message = Message.objects.create(
        conversation=locked, inbox_id=locked.inbox_id, kind=Kind.NOTE, author=author, body=body
    )
    publish_message(message)
    return message


@transaction.atomic
def message_delete(*, message: Message, actor: Any) -> Message:
    """Soft delete: greyed out for roles that may see deleted messages, hidden for the rest;
    the conversation's list preview falls back to the newest message still shown."""
    locked = Message.objects.select_for_update().select_related("conversation").get(pk=message.pk)
    if locked.deleted_at is not None:
        return locked
    model_update(locked, deleted_at=timezone.now(), deleted_by=actor)
    # The list shows the conversation's preview to everyone: it must not keep deleted text.
    conversation = _locked(locked.conversation)
    newest = (
        conversation.messages.filter(
            deleted_at__isnull=True, kind__in=[Kind.INBOUND, Kind.OUTBOUND]
        )
        .order_by("-created_at", "-pk")
        .first()
    )
    preview = _preview(newest.body, newest.attachments) if newest is not None else ""
    if conversation.last_message_preview != preview:
        model_update(conversation, last_message_preview=preview)
    _record(
        locked.conversation, ConversationEvent.Type.MESSAGE_DELETED, actor, message_id=locked.pk
    )
    publish_message(locked, type="message.deleted")
    return locked


@transaction.atomic
def message_system(*, conversation: Conversation, body: str) -> Message:
    """A line from Smartdesk itself in the thread (the customer blocked the bot…): seen by
    operators, never delivered, never counted as the customer's or our answer."""
    message = Message.objects.create(
        conversation=conversation, inbox_id=conversation.inbox_id, kind=Kind.SYSTEM, body=body
    )
    publish_message(message)
    publish_conversation_changed(conversation, change="message")
    return message
