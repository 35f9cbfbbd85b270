"""Messages in and out: ingest from channels (idempotent), replies, notes, deletion, delivery."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from chats import adapters
from chats.events import publish_conversation_changed, publish_message
from chats.models import Conversation, ConversationEvent, Inbox, Message
from chats.services.conversations import (
    ActionRefused,
    _locked,
    _record,
    _reopen,
    _wake,
    conversation_assign,
)
from chats.services.distribution import channel_weight, initial_priority, request_assignment
from customers.models import Customer
from customers.services import customer_identify

Status = Conversation.Status
Kind = Message.Kind

MAX_BODY = 10_000
PREVIEW = 200


class DuplicateDelivery(Exception):
    """A concurrent delivery stored this channel id first."""

    def __init__(self, *, inbox: Inbox, external_id: str | None) -> None:
        super().__init__(f"{inbox.pk}:{external_id}")
        self.inbox = inbox
        self.external_id = external_id


def _preview(body: str, attachments: Sequence[dict[str, Any]]) -> str:
    text = " ".join(body.split())
    if not text and attachments:
        text = "📎 " + ", ".join(str(a.get("name", "")) for a in attachments)
    return text[:PREVIEW]


def _clean_body(body: str, attachments: Sequence[dict[str, Any]]) -> str:
    body = (body or "").strip()
    if not body and not attachments:
        raise ValidationError(_("The message is empty."))
    if len(body) > MAX_BODY:
        raise ValidationError(
            _("The message is too long (%(n)d characters, at most %(max)d).")
            % {"n": len(body), "max": MAX_BODY}
        )
    return body


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
) -> tuple[Message, bool]:
    """Store a customer's message; returns (message, created).

    Idempotent on `(inbox, external_id)`: a retried delivery returns the stored message and
    changes nothing. Concurrent deliveries for one customer serialise on the customer row,
    so a retry can never open a second conversation either.
    Wakes a conversation snoozed until the customer replies.
    """
    body = _clean_body(body, attachments)
    Customer.objects.select_for_update().filter(pk=customer.pk).first()
    if external_id:
        existing = Message.objects.filter(inbox=inbox, external_id=external_id).first()
        if existing is not None:
            return existing, False
    now = timezone.now()
    conversation = _conversation_for_inbound(inbox, customer, now)
    try:
        with transaction.atomic():
            message = Message.objects.create(
                conversation=conversation,
                inbox=inbox,
                kind=Kind.INBOUND,
                body=body,
                attachments=list(attachments),
                external_id=external_id or None,
            )
    except IntegrityError:
        # The same channel id, delivered at the same moment for a *different* customer (the
        # customer lock does not cover that): the unique index decides, the loser stores
        # nothing. Raised so the caller's transaction (and any conversation it opened) rolls
        # back; the retry finds the stored message.
        raise DuplicateDelivery(inbox=inbox, external_id=external_id) from None
    conversation.last_message_at = message.created_at
    conversation.last_message_preview = _preview(body, attachments)
    conversation.unread_count += 1
    if conversation.waiting_since is None:
        conversation.waiting_since = message.created_at
    conversation.save(
        update_fields=[
            "last_message_at",
            "last_message_preview",
            "unread_count",
            "waiting_since",
            "updated_at",
        ]
    )
    publish_message(message)
    if conversation.status == Status.SNOOZED and conversation.snooze_until_reply:
        _wake(conversation, actor=None, cause="reply")
    else:
        publish_conversation_changed(conversation, change="message")
    return message, True


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
) -> tuple[Message, bool]:
    """A channel's delivery: identify the customer and store their message, all or nothing
    (a refused message leaves no new customer behind). Idempotent on `external_id`, even
    under concurrent deliveries: the losers of a race get the stored message back."""
    try:
        with transaction.atomic():
            customer = customer_identify(
                kind=identity_kind, value=identity_value, first_name=first_name, last_name=last_name
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
    locked.last_message_at = message.created_at
    locked.last_message_preview = _preview(body, attachments)
    locked.waiting_since = None
    if locked.first_response_at is None:
        locked.first_response_at = message.created_at
    locked.save(
        update_fields=[
            "last_message_at",
            "last_message_preview",
            "waiting_since",
            "first_response_at",
            "updated_at",
        ]
    )
    publish_message(message)
    publish_conversation_changed(locked, change="message")
    from chats.tasks import deliver_message

    transaction.on_commit(lambda: deliver_message.delay(message.pk))
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
    locked.deleted_at = timezone.now()
    locked.deleted_by = actor
    locked.save(update_fields=["deleted_at", "deleted_by"])
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
        conversation.last_message_preview = preview
        conversation.save(update_fields=["last_message_preview", "updated_at"])
    _record(
        locked.conversation, ConversationEvent.Type.MESSAGE_DELETED, actor, message_id=locked.pk
    )
    publish_message(locked, type="message.deleted")
    return locked


def message_deliver(*, message_id: int) -> str:
    """Hand a queued reply to its channel and record the outcome; returns the delivery status.

    Safe to run twice: only a message still `queued` is sent. A transient channel error
    propagates (the task retries it); any other refusal marks the message failed, visibly.
    """
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(of=("self",))
            .select_related("conversation", "inbox")
            .filter(pk=message_id)
            .first()
        )
        if message is None or message.delivery_status != Message.Delivery.QUEUED:
            return message.delivery_status if message else ""
        adapter = adapters.adapter_for(message.inbox)
        try:
            if adapter is None:
                raise adapters.NotDeliverable(
                    _("No delivery for the %(channel)s channel.")
                    % {"channel": message.inbox.get_kind_display()}
                )
            external_id = adapter.send(message)
        except adapters.NotDeliverable as refusal:
            message.delivery_status = Message.Delivery.FAILED
            message.delivery_error = str(refusal)[:500]
        else:
            message.delivery_status = Message.Delivery.SENT
            message.delivery_error = ""
            if external_id:
                message.external_id = external_id
        message.save(update_fields=["delivery_status", "delivery_error", "external_id"])
        publish_message(message, type="message.updated")
    return message.delivery_status
