"""Messages from customers: ingest from channels (idempotent), albums, edits made in a channel."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from chats.events import publish_conversation_changed, publish_message
from chats.models import Conversation, ConversationEvent, Inbox, Message
from chats.services.common import _record
from chats.services.conversations.reopening import _reopen, _wake
from chats.services.distribution import channel_weight, initial_priority, request_assignment
from chats.services.messages.common import MAX_BODY, Kind, Status, _clean_body, _preview
from chats.signals import customer_message_received
from customers.languages import customer_language_set
from customers.models import Customer, LanguageSource
from customers.services import customer_identify
from smartdesk.core.oncommit import after_commit
from smartdesk.core.updates import model_update


class DuplicateDelivery(Exception):
    """A concurrent delivery stored this channel id first."""

    def __init__(self, *, inbox: Inbox, external_id: str | None) -> None:
        super().__init__(f"{inbox.pk}:{external_id}")
        self.inbox = inbox
        self.external_id = external_id


def _reopen_window() -> timedelta:
    return timedelta(hours=getattr(settings, "CONVERSATION_REOPEN_HOURS", 24))


def _conversation_for_inbound(inbox: Inbox, customer: Customer, now: datetime) -> Conversation:
    """Which conversation an inbound message joins (documented in docs/conversations.md):
    the customer's open or snoozed conversation in this inbox; else the one closed within the
    reopen window, reopened; else a new one in the inbox's default team."""
    mine = (
        Conversation.objects.filter(inbox=inbox, customer=customer, deleted_at__isnull=True)
        .select_related("customer", "inbox")
        .select_for_update(of=("self",))
    )
    # Locked in the lookup itself: PostgreSQL re-checks the filter after waiting for the lock,
    # so a conversation an operator closes or deletes at this very moment drops out here
    # instead of swallowing the message where no list shows it.
    current = mine.exclude(status=Status.CLOSED).order_by("-created_at").first()
    if current is not None:
        return current
    recent = (
        mine.filter(status=Status.CLOSED, closed_at__gte=now - _reopen_window())
        .order_by("-closed_at")
        .first()
    )
    if recent is not None:
        return _reopen(recent, actor=None, cause="customer")
    conversation = Conversation.objects.create(
        customer=customer,
        inbox=inbox,
        team=inbox.default_team,
        status=Status.OPEN,
        priority=initial_priority(customer.pk),
        load_weight=channel_weight(inbox.kind),
        queued_at=now if inbox.default_team_id else None,
    )
    _record(conversation, ConversationEvent.Type.CREATED, None, inbox=inbox.pk)
    request_assignment(conversation.pk)
    return conversation


@transaction.atomic
def message_receive(
    *,
    inbox: Inbox,
    customer: Customer,
    body: str,
    external_id: str | None = None,
    attachments: Sequence[dict[str, Any]] = (),
    entities: Sequence[dict[str, Any]] = (),
    reply_to_external_id: str | None = None,
    media_group_id: str | None = None,
) -> tuple[Message, bool]:
    """Store a customer's message; returns (message, created).

    Idempotent on `(inbox, external_id)`: a retried delivery returns the stored message and
    changes nothing. Concurrent deliveries for one customer serialise on the customer row,
    so a retry can never open a second conversation either.
    Wakes a conversation snoozed until the customer replies.

    Channel details: `entities` (formatting, code-point offsets into `body`), the channel id
    of the message it replies to, and an album id — the parts of one album (Telegram sends
    them as separate updates, with no end marker) become one message whose attachments grow.
    """
    body = _clean_body(body, attachments)
    Customer.objects.select_for_update().filter(pk=customer.pk).first()
    if external_id:
        existing = Message.objects.filter(inbox=inbox, external_id=external_id).first()
        if existing is not None:
            return existing, False
    if media_group_id:
        album = (
            Message.objects.select_for_update(of=("self",))
            .select_related("conversation")
            .filter(inbox=inbox, media_group_id=media_group_id, kind=Kind.INBOUND)
            .first()
        )
        if album is not None:
            return _album_append(album, body, attachments, entities), False
    now = timezone.now()
    conversation = _conversation_for_inbound(inbox, customer, now)
    reply_to = None
    if reply_to_external_id:
        reply_to = Message.objects.filter(
            inbox=inbox, external_id=reply_to_external_id, conversation__customer=customer
        ).first()
    try:
        with transaction.atomic():
            message = Message.objects.create(
                conversation=conversation,
                inbox=inbox,
                kind=Kind.INBOUND,
                body=body,
                attachments=list(attachments),
                external_id=external_id or None,
                entities=list(entities),
                reply_to=reply_to,
                media_group_id=media_group_id or None,
            )
    except IntegrityError:
        # The same channel id, delivered at the same moment for a *different* customer (the
        # customer lock does not cover that): the unique index decides, the loser stores
        # nothing. Raised so the caller's transaction (and any conversation it opened) rolls
        # back; the retry finds the stored message.
        raise DuplicateDelivery(inbox=inbox, external_id=external_id) from None
    model_update(
        conversation,
        last_message_at=message.created_at,
        last_message_preview=_preview(body, attachments),
        unread_count=conversation.unread_count + 1,
        waiting_since=conversation.waiting_since or message.created_at,
    )
    after_commit(
        customer_message_received.send,
        Message,
        id=message.pk,
        conversation_id=conversation.pk,
        name="customer-message-received",
    )
    if conversation.status == Status.SNOOZED and conversation.snooze_until_reply:
        # Wake first: the wake may move the conversation (to the queue, another operator), and
        # the message must go to whoever sees it now, not to who had it.
        _wake(conversation, actor=None, cause="reply")
        publish_message(message)
    else:
        publish_message(message)
        publish_conversation_changed(conversation, change="message")
    return message, True


def _album_append(
    album: Message,
    body: str,
    attachments: Sequence[dict[str, Any]],
    entities: Sequence[dict[str, Any]],
) -> Message:
    """One more part of an album: its files join the album's message; a caption (Telegram
    puts it on one part, any part) becomes the text if there is none yet."""
    caption = {"body": body, "entities": list(entities)} if body and not album.body else {}
    model_update(album, attachments=[*album.attachments, *attachments], **caption)
    model_update(album.conversation, last_message_preview=_preview(album.body, album.attachments))
    publish_message(album, type="message.updated")
    return album


def message_receive_from_channel(
    *,
    inbox: Inbox,
    identity_kind: str,
    identity_value: str,
    body: str,
    external_id: str,
    first_name: str = "",
    last_name: str = "",
    attachments: Sequence[dict[str, Any]] = (),
    language: str = "",
) -> tuple[Message, bool]:
    """A channel's delivery: identify the customer and store their message, all or nothing
    (a refused message leaves no new customer behind). Idempotent on `external_id`, even
    under concurrent deliveries: the losers of a race get the stored message back. A
    `language` the channel names is stored on the customer as set on purpose: it outranks a
    messenger's or a browser's (customers.languages)."""
    try:
        with transaction.atomic():
            customer = customer_identify(
                kind=identity_kind, value=identity_value, first_name=first_name, last_name=last_name
            )
            # The integrator names it on purpose: it outranks a messenger's or a browser's.
            customer_language_set(
                customer=customer, language=language, source=LanguageSource.EXPLICIT
            )
            return message_receive(
                inbox=inbox,
                customer=customer,
                body=body,
                external_id=external_id,
                attachments=attachments,
            )
    except DuplicateDelivery:
        return Message.objects.get(inbox=inbox, external_id=external_id), False


@transaction.atomic
def message_edit_from_channel(
    *,
    inbox: Inbox,
    external_id: str,
    body: str,
    entities: Sequence[dict[str, Any]] = (),
) -> Message | None:
    """The customer edited a message in their channel: the stored text becomes the new one
    and the previous version is kept as a `MessageRevision`. None if the message is unknown
    (sent before the inbox existed); the same text twice changes nothing."""
    from chats.models import MessageRevision

    message = (
        Message.objects.select_for_update(of=("self",))
        .select_related("conversation")
        .filter(inbox=inbox, external_id=external_id)
        .first()
    )
    if message is None:
        return None
    body = (body or "").strip()[:MAX_BODY]
    if body == message.body and list(entities) == list(message.entities or []):
        return message
    now = timezone.now()
    MessageRevision.objects.create(
        message=message, body=message.body, entities=message.entities or [], replaced_at=now
    )
    model_update(message, body=body, entities=list(entities), edited_at=now)
    conversation = message.conversation
    newest = (
        conversation.messages.filter(
            deleted_at__isnull=True, kind__in=[Kind.INBOUND, Kind.OUTBOUND]
        )
        .order_by("-created_at", "-pk")
        .values_list("pk", flat=True)
        .first()
    )
    if newest == message.pk:
        model_update(conversation, last_message_preview=_preview(body, message.attachments))
    publish_message(message, type="message.updated")
    return message
