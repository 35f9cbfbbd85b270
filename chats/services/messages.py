"""Messages in and out: ingest from channels (idempotent), replies, notes, deletion, delivery."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
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
DELIVERY_LOCK_CLASS = 7301  # advisory-lock namespace of `message_deliver`

log = logging.getLogger(__name__)


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


def _album_append(
    album: Message,
    body: str,
    attachments: Sequence[dict[str, Any]],
    entities: Sequence[dict[str, Any]],
) -> Message:
    """One more part of an album: its files join the album's message; a caption (Telegram
    puts it on one part, any part) becomes the text if there is none yet."""
    album.attachments = [*album.attachments, *attachments]
    fields = ["attachments"]
    if body and not album.body:
        album.body = body
        album.entities = list(entities)
        fields += ["body", "entities"]
    album.save(update_fields=fields)
    conversation = album.conversation
    conversation.last_message_preview = _preview(album.body, album.attachments)
    conversation.save(update_fields=["last_message_preview", "updated_at"])
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


@contextmanager
def _delivery_claim(message_id: int) -> Iterator[bool]:
    """One delivery of a message at a time, without a row lock held over the network: a
    PostgreSQL session advisory lock on the message id (the embedded SQLite product runs one
    process, and nothing is needed). Yields False if another worker holds it."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [DELIVERY_LOCK_CLASS, message_id])
        claimed = bool(cursor.fetchone()[0])
    try:
        yield claimed
    finally:
        if claimed:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_unlock(%s, %s)", [DELIVERY_LOCK_CLASS, message_id]
                )


def message_deliver(*, message_id: int) -> str:
    """Hand a queued reply to its channel and record the outcome; returns the delivery status.

    Safe to run twice: only a message still `queued` is sent, by one worker at a time. The
    channel is called outside any transaction (no row lock over the network or a 429 pause);
    what the adapter records (attempts, parts sent, an unreachable customer) is committed as
    it happens. A refusal marks the message failed, visibly, with the channel's reason; so
    does any unexpected error (a stored file gone missing, a bug), with the traceback
    logged — a reply is never left `queued` without a word. A transient error (a 5xx, a
    timeout, a 429) is recorded on the message — still queued, the operator sees why it
    waits — and then raised for the task to retry.
    """
    with _delivery_claim(message_id) as claimed:
        message = (
            Message.objects.select_related("conversation", "conversation__customer", "inbox")
            .filter(pk=message_id)
            .first()
        )
        if message is None:
            return ""
        if message.delivery_status != Message.Delivery.QUEUED or not claimed:
            return message.delivery_status
        pending: adapters.TransientDeliveryError | None = None
        external_id: str | None = None
        status = Message.Delivery.QUEUED
        adapter = adapters.adapter_for(message.inbox)
        try:
            if adapter is None:
                raise adapters.NotDeliverable(
                    _("No delivery for the %(channel)s channel.")
                    % {"channel": message.inbox.get_kind_display()}
                )
            external_id = adapter.send(message)
        except adapters.NotDeliverable as refusal:
            status, error = Message.Delivery.FAILED, str(refusal)
        except adapters.TransientDeliveryError as problem:
            pending = problem
            error = _("Retrying: %(reason)s") % {"reason": problem}
        except Exception as problem:
            log.exception("delivery of message %s failed unexpectedly", message_id)
            status = Message.Delivery.FAILED
            error = _("Not delivered: %(reason)s") % {
                "reason": f"{type(problem).__name__}: {problem}"
            }
        else:
            status, error = Message.Delivery.SENT, ""
        changed = _delivery_outcome(message_id, status, error[:500], external_id)
    if pending is not None and changed:
        raise pending
    return status if changed else Message.objects.get(pk=message_id).delivery_status


@transaction.atomic
def _delivery_outcome(message_id: int, status: str, error: str, external_id: str | None) -> bool:
    """Record what the channel said, in one short transaction, and publish it. A message
    that stopped being queued meanwhile (the stuck-delivery sweep) keeps its state unless
    the channel says it was sent after all."""
    message = (
        Message.objects.select_for_update(of=("self",))
        .select_related("conversation")
        .get(pk=message_id)
    )
    if message.delivery_status != Message.Delivery.QUEUED and status != Message.Delivery.SENT:
        return False
    message.delivery_status = status
    message.delivery_error = error
    if external_id:
        message.external_id = external_id
    message.save(update_fields=["delivery_status", "delivery_error", "external_id"])
    publish_message(message, type="message.updated")
    return True


def message_delivery_sweep_stuck(*, older_than: timedelta | None = None) -> int:
    """The safety net: a reply still queued long after every retry would have run (its task
    lost with a worker, a broker outage) is marked failed, visibly. Returns how many."""
    window = older_than or timedelta(minutes=settings.DELIVERY_STUCK_MINUTES)
    stuck = Message.objects.filter(
        kind=Kind.OUTBOUND,
        delivery_status=Message.Delivery.QUEUED,
        created_at__lt=timezone.now() - window,
    ).values_list("pk", flat=True)
    count = 0
    minutes = int(window.total_seconds() // 60)
    for message_id in list(stuck[:500]):
        status = message_delivery_give_up(
            message_id=message_id,
            reason=_("no answer from the channel within %(n)d minutes") % {"n": minutes},
        )
        count += status == Message.Delivery.FAILED
    return count


@transaction.atomic
def message_delivery_give_up(*, message_id: int, reason: str) -> str:
    """The retries are spent: a reply still queued is marked failed, never left waiting
    silently."""
    message = (
        Message.objects.select_for_update(of=("self",))
        .select_related("conversation")
        .filter(pk=message_id)
        .first()
    )
    if message is None or message.delivery_status != Message.Delivery.QUEUED:
        return message.delivery_status if message else ""
    message.delivery_status = Message.Delivery.FAILED
    message.delivery_error = (_("Gave up after several tries: %(reason)s") % {"reason": reason})[
        :500
    ]
    message.save(update_fields=["delivery_status", "delivery_error"])
    publish_message(message, type="message.updated")
    return message.delivery_status


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
    message.body = body
    message.entities = list(entities)
    message.edited_at = now
    message.save(update_fields=["body", "entities", "edited_at"])
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
        conversation.last_message_preview = _preview(body, message.attachments)
        conversation.save(update_fields=["last_message_preview", "updated_at"])
    publish_message(message, type="message.updated")
    return message


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
