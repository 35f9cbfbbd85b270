"""Messages in and out: ingest from channels (idempotent), replies, notes, deletion, delivery."""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from chats import adapters
from chats.adapters import RetryLater
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
from chats.signals import customer_message_received
from customers.languages import customer_language_set
from customers.models import Customer, LanguageSource
from customers.services import customer_identify
from smartdesk.oncommit import after_commit

Status = Conversation.Status
Kind = Message.Kind

MAX_BODY = 10_000
PREVIEW = 200

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


# --- delivery: the outbox (docs/channels.md, "Delivery") -----------------------------------

# The first try and 8 retries; a reply whose tries all failed (or never finished) is failed,
# visibly, with the last reason.
DELIVERY_MAX_TRIES = 9
# Backoff between transient failures (seconds, with jitter). A longer wait (Telegram's 429
# `retry_after`) is kept in the database only: the sweep brings the reply back when it is due.
DELIVERY_BACKOFF_MAX = 300


class DeliveryPostponed(RetryLater):
    """A transient failure, recorded: the reply stays queued and reserved until `due`; the
    task retries after `seconds`, passing `due` back as the token of its reservation."""

    def __init__(self, message: str, *, seconds: float, due: datetime) -> None:
        super().__init__(message, seconds=seconds)
        self.due = due


class DeliveryClaimLost(Exception):
    """Our claim ran out and another task took the reply over: stop sending at once."""


# The claim the delivery running in this thread (or task) holds: (message id, lease end).
_held: ContextVar[tuple[int, datetime] | None] = ContextVar("delivery_claim", default=None)


def _lease() -> timedelta:
    return timedelta(seconds=settings.DELIVERY_LEASE_SECONDS)


def _delivery_claim(message_id: int, token: datetime | None) -> tuple[datetime, int] | None:
    """Claim a queued reply for one try, with a conditional UPDATE (no lock held over the
    network): free when nobody holds it or its lease has run out (the holder died), or when
    `token` is the reservation this task's own retry was given. Returns (lease end, tries
    so far, this one included), or None when another task holds it or it is not queued."""
    now = timezone.now()
    until = now + _lease()
    free = Q(delivery_claimed_until__isnull=True) | Q(delivery_claimed_until__lte=now)
    if token is not None:
        free |= Q(delivery_claimed_until=token)
    # Any queued message, not only replies: the adapter refuses anything else visibly.
    won = Message.objects.filter(
        free, pk=message_id, delivery_status=Message.Delivery.QUEUED
    ).update(delivery_claimed_until=until, delivery_tries=F("delivery_tries") + 1)
    if not won:
        return None
    tries = Message.objects.filter(pk=message_id).values_list("delivery_tries", flat=True).get()
    return until, tries


def message_delivery_keep_claim() -> None:
    """For an adapter sending a reply in several calls, before each further call: renew the
    claim, or raise DeliveryClaimLost when it ran out and another task took the reply (so a
    slow delivery never overlaps the one that replaced it). Nothing outside a delivery."""
    held = _held.get()
    if held is None:
        return
    message_id, until = held
    renewed = timezone.now() + _lease()
    kept = Message.objects.filter(
        pk=message_id, delivery_status=Message.Delivery.QUEUED, delivery_claimed_until=until
    ).update(delivery_claimed_until=renewed)
    if not kept:
        raise DeliveryClaimLost(f"message {message_id}")
    _held.set((message_id, renewed))


def _backoff(tries: int) -> float:
    countdown = min(DELIVERY_BACKOFF_MAX, 2**tries)
    return countdown / 2 + random.uniform(0, countdown / 2)  # noqa: S311 - jitter


def message_deliver(*, message_id: int, token: datetime | None = None) -> str:
    """Hand a queued reply to its channel and record the outcome; returns the delivery status.

    Safe to run twice, and at once: the reply is claimed first (see `_delivery_claim`), so
    a broker's redelivery and the sweep's copy never send it while a try is in flight; a
    claim whose worker died runs out after DELIVERY_LEASE_SECONDS. The channel is called
    outside any transaction; what the adapter records (attempts, parts sent) is committed
    as it happens, so a retry resumes at the first part not sent. A refusal fails the
    message, visibly, with the channel's reason; so does any unexpected error (a stored
    file gone missing, a bug), with the traceback logged. A transient error (a 5xx, a
    timeout, a 429) is recorded on the message — still queued, the operator sees why it
    waits — and raised as DeliveryPostponed for the task to retry; after
    DELIVERY_MAX_TRIES tries the message fails instead.
    """
    claim = _delivery_claim(message_id, token)
    if claim is None:
        status = Message.objects.filter(pk=message_id).values_list("delivery_status", flat=True)
        return status.first() or ""
    until, tries = claim
    message = (
        Message.objects.select_related("conversation", "conversation__customer", "inbox")
        .filter(pk=message_id)
        .first()
    )
    if message is None:  # pragma: no cover - deleted between the claim and here
        return ""
    if tries > DELIVERY_MAX_TRIES:
        # Every earlier try was cut off before it could record anything (its worker killed
        # mid-send, again and again): stop rather than loop for ever.
        reason = _("the delivery was interrupted every time")
        return _delivery_failed_for_good(message_id, until, reason)
    pending: adapters.TransientDeliveryError | None = None
    external_id: str | None = None
    status = Message.Delivery.QUEUED
    error = ""
    adapter = adapters.adapter_for(message.inbox)
    held = _held.set((message_id, until))
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
    except DeliveryClaimLost:
        log.warning("delivery of message %s overran its claim; another task has it", message_id)
        return _status(message_id)
    except Exception as problem:
        log.exception("delivery of message %s failed unexpectedly", message_id)
        status = Message.Delivery.FAILED
        error = _("Not delivered: %(reason)s") % {"reason": f"{type(problem).__name__}: {problem}"}
    else:
        status = Message.Delivery.SENT
    finally:
        until = (_held.get() or (message_id, until))[1]
        _held.reset(held)
    if pending is None:
        changed = _delivery_outcome(message_id, until, status, error[:500], external_id)
        return status if changed else _status(message_id)
    if tries >= DELIVERY_MAX_TRIES:
        return _delivery_failed_for_good(message_id, until, str(pending))
    # Telegram's own `retry_after` when it gave one, else our backoff.
    seconds = max(1.0, pending.seconds) if isinstance(pending, RetryLater) else _backoff(tries)
    due = timezone.now() + timedelta(seconds=seconds)
    error = _("Retrying: %(reason)s") % {"reason": pending}
    if not _delivery_postpone(message_id, until, due, error[:500]):
        return _status(message_id)
    raise DeliveryPostponed(str(pending), seconds=seconds, due=due) from pending


def _status(message_id: int) -> str:
    return Message.objects.values_list("delivery_status", flat=True).get(pk=message_id)


def _locked_reply(message_id: int) -> Message:
    return (
        Message.objects.select_for_update(of=("self",))
        .select_related("conversation")
        .get(pk=message_id)
    )


@transaction.atomic
def _delivery_outcome(
    message_id: int, until: datetime, status: str, error: str, external_id: str | None
) -> bool:
    """Record what the channel said, in one short transaction, and publish it. Only while
    our claim holds — unless the channel says it was sent: that is the truth whoever holds
    the claim (and the other task stops at its next part)."""
    message = _locked_reply(message_id)
    queued = message.delivery_status == Message.Delivery.QUEUED
    ours = queued and message.delivery_claimed_until == until
    if not (ours or (status == Message.Delivery.SENT and message.delivery_status != status)):
        return False
    message.delivery_status = status
    message.delivery_error = error
    message.delivery_claimed_until = None
    if external_id:
        message.external_id = external_id
    message.save(
        update_fields=["delivery_status", "delivery_error", "delivery_claimed_until", "external_id"]
    )
    publish_message(message, type="message.updated")
    return True


@transaction.atomic
def _delivery_postpone(message_id: int, until: datetime, due: datetime, error: str) -> bool:
    """A transient failure: still queued, the reason shown, reserved for the retry until
    `due` (the sweep takes it back if that retry never comes)."""
    message = _locked_reply(message_id)
    if message.delivery_status != Message.Delivery.QUEUED:
        return False
    if message.delivery_claimed_until != until:
        return False
    message.delivery_error = error
    message.delivery_claimed_until = due
    message.save(update_fields=["delivery_error", "delivery_claimed_until"])
    publish_message(message, type="message.updated")
    return True


def _delivery_failed_for_good(message_id: int, until: datetime, reason: str) -> str:
    error = _("Gave up after several tries: %(reason)s") % {"reason": reason}
    changed = _delivery_outcome(message_id, until, Message.Delivery.FAILED, error[:500], None)
    return Message.Delivery.FAILED if changed else _status(message_id)


def message_delivery_due(*, limit: int = 500) -> list[int]:
    """The outbox sweep's look-up: queued replies that no task claimed within
    DELIVERY_STUCK_SECONDS (the task was lost: a worker killed, a broker restarted empty, an
    enqueue that failed after commit), or whose claim or retry reservation has run out.
    Oldest first, in a bounded batch (the partial index `msg_delivery_queued` serves it)."""
    now = timezone.now()
    unclaimed = now - timedelta(seconds=settings.DELIVERY_STUCK_SECONDS)
    due = Q(delivery_claimed_until__isnull=True, created_at__lt=unclaimed) | Q(
        delivery_claimed_until__lt=now
    )
    return list(
        Message.objects.filter(due, delivery_status=Message.Delivery.QUEUED)
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


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
    message.delivery_claimed_until = None
    message.save(update_fields=["delivery_status", "delivery_error", "delivery_claimed_until"])
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
