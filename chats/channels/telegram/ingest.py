"""Telegram in: accept an update fast (store it once, queue it), then process it in a task.

Acceptance is idempotent on `(inbox, update_id)`: Telegram redelivers an update it thinks we
missed, and a redelivery (or ten at once) stores nothing new and queues nothing. Processing
holds the update's row lock and marks it processed in the same transaction, so a task run
twice does the work once.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext as _

from chats.channels.attachments import (
    AttachmentRefused,
    attachment_check,
    attachment_store,
    guess_type,
    max_bytes,
)
from chats.channels.telegram.client import FileTooLarge, TelegramClient, TelegramError, redact
from chats.channels.telegram.updates import (
    HANDLED,
    CallbackQuery,
    IncomingFile,
    IncomingMessage,
    MemberChange,
    Update,
    message_external_id,
    parse_update,
)
from chats.models import Conversation, Inbox, TelegramChat, TelegramUpdate
from chats.services import messages as message_services
from customers.identities import customer_link_verified, identity_set_reachable
from customers.languages import customer_language_set
from customers.models import Customer, Identity, LanguageSource
from customers.services import customer_identify
from smartdesk.core.oncommit import after_commit

log = logging.getLogger(__name__)

# Sent when a customer presses an inline button (CSAT and the like hook in here). The query
# is answered with `answerCallbackQuery` whether or not anyone listens.
telegram_callback = Signal()  # inbox, customer, data, chat_id, message_id


class Retry(Exception):
    """Processing hit a transient Bot API error (getFile, answerCallbackQuery): retry."""


def telegram_update_accept(*, inbox: Inbox, payload: dict[str, Any]) -> bool:
    """Store one webhook update and queue its processing after commit. False if this
    update_id was stored before (nothing queued). Raises MalformedUpdate first if it is not
    an update at all."""
    update = parse_update(payload)
    try:
        with transaction.atomic():
            row = TelegramUpdate.objects.create(
                inbox=inbox, update_id=update.update_id, payload=payload
            )
            after_commit(_enqueue, row.pk, name="telegram-update")
    except IntegrityError:
        return False
    return True


def _enqueue(update_pk: int) -> None:
    """Queue the processing; the update is stored, so a broker that is down (or, run
    eagerly, a processing error) must not turn Telegram's delivery into a 500 — Telegram
    would redeliver an update we already hold. The sweep picks the update up later."""
    from chats.channels.tasks import process_telegram_update

    try:
        process_telegram_update.delay(update_pk)
    except Exception as problem:
        log.warning("telegram update %s not processed now; the sweep retries it", update_pk)
        telegram_update_failed(update_pk=update_pk, problem=problem)


def telegram_update_failed(*, update_pk: int, problem: BaseException) -> None:
    """Note on a still unprocessed update why it is (shown in the admin; the sweep retries)."""
    reason = f"{type(problem).__name__}: {problem}"
    TelegramUpdate.objects.filter(pk=update_pk, processed_at__isnull=True).update(
        error=redact(reason)[:500]
    )


def telegram_updates_stale(*, older_than: timedelta | None = None) -> list[int]:
    """Updates stored but still unprocessed after `TELEGRAM_UPDATE_SWEEP_MINUTES` (their task
    was never queued, died with a worker, or failed): the sweep queues them again. Updates
    older than a week are left for a person to look at."""
    now = timezone.now()
    window = older_than or timedelta(minutes=settings.TELEGRAM_UPDATE_SWEEP_MINUTES)
    return list(
        TelegramUpdate.objects.filter(
            processed_at__isnull=True,
            received_at__lt=now - window,
            received_at__gte=now - timedelta(days=7),
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:500]
    )


def telegram_update_process(*, update_pk: int, final: bool = False) -> str:
    """Act on a stored update; returns what was done. Idempotent.

    `final` (the last try): a file Telegram still does not give is stored as its name with
    the reason instead of retrying, so the message itself is never lost."""
    row = TelegramUpdate.objects.select_related("inbox").filter(pk=update_pk).first()
    if row is None or row.processed_at is not None:
        return "done"
    inbox = row.inbox
    update = parse_update(row.payload)
    client = TelegramClient(inbox.bot_token)
    if update.kind == "callback_query" and update.callback is not None:
        # Answered first, before anything that could fail or wait: or the button spins.
        _answer_callback(client, update.callback, final=final)
    # Files are fetched before the row is locked: network time holds no lock. A task run
    # twice may fetch twice; only the run that wins the lock attaches them.
    attachments: list[dict[str, Any]] = []
    if update.kind == "message" and update.message is not None:
        attachments = [_fetch(client, f, final=final) for f in update.message.files]
    with transaction.atomic():
        locked = TelegramUpdate.objects.select_for_update().get(pk=row.pk)
        if locked.processed_at is not None:
            return "done"
        outcome = _dispatch(inbox, update, attachments, client)
        locked.processed_at = timezone.now()
        locked.error = (
            "" if outcome != "ignored" else _("Not handled: %(kind)s") % {"kind": update.kind}
        )
        locked.save(update_fields=["processed_at", "error"])
    return outcome


def _dispatch(
    inbox: Inbox, update: Update, attachments: list[dict[str, Any]], client: TelegramClient
) -> str:
    if update.kind == "message" and update.message is not None:
        if update.message.chat_type != "private":
            return "ignored"  # a support bot talks to people one to one
        _receive(inbox, update.message, attachments)
        return "message"
    if update.kind == "edited_message" and update.message is not None:
        message_services.message_edit_from_channel(
            inbox=inbox,
            external_id=update.message.external_id,
            body=update.message.text,
            entities=update.message.entities,
        )
        return "edit"
    if update.kind == "callback_query" and update.callback is not None:
        _callback(inbox, update.callback, client)
        return "callback"
    if update.kind == "my_chat_member" and update.member is not None:
        if update.member.chat_type != "private":
            return "ignored"
        _member(inbox, update.member)
        return "member"
    return "ignored"


def _customer(inbox: Inbox, message: IncomingMessage) -> Customer:
    sender = message.sender
    customer = customer_identify(
        kind=Identity.Kind.TELEGRAM,
        value=str(sender.id),
        first_name=sender.first_name,
        last_name=sender.last_name,
    )
    if message.contact and message.contact.get("user_id") == sender.id:
        # The customer shared their own number: Telegram vouches for it, so it is a verified
        # identity, and may name a customer we already know from another channel.
        try:
            customer = customer_link_verified(
                customer=customer,
                identities=[(Identity.Kind.PHONE, message.contact["phone_number"])],
            )
        except Exception:  # an odd number must not lose the message
            log.warning("telegram contact not linked", exc_info=True)
    # Telegram says the language of the customer's app: a channel's word (the latest wins
    # over another channel's or a browser's guess, never over one set on purpose; an update
    # without it changes nothing).
    customer_language_set(
        customer=customer, language=sender.language_code, source=LanguageSource.CHANNEL
    )
    # A message from them means the bot can reach them again.
    identity_set_reachable(kind=Identity.Kind.TELEGRAM, value=str(sender.id), reachable=True)
    TelegramChat.objects.update_or_create(
        inbox=inbox, customer=customer, defaults={"chat_id": message.chat_id}
    )
    return customer


def _receive(inbox: Inbox, message: IncomingMessage, attachments: list[dict[str, Any]]) -> None:
    customer = _customer(inbox, message)
    body = message.text
    if message.contact:
        contact = message.contact
        name = f"{contact['first_name']} {contact['last_name']}".strip()
        line = f"📇 {name}: {contact['phone_number']}" if name else f"📇 {contact['phone_number']}"
        body = f"{body}\n{line}".strip()
    if message.location:
        lat, lon = message.location["latitude"], message.location["longitude"]
        body = f"{body}\n📍 {lat:.5f}, {lon:.5f}".strip()
        attachments = [
            *attachments,
            {
                "name": _("Location on the map"),
                "url": f"https://www.openstreetmap.org/?mlat={lat:.6f}&mlon={lon:.6f}#map=17/{lat:.6f}/{lon:.6f}",
                "content_type": "location",
            },
        ]
    if not body and not attachments:
        body = _("(a kind of Telegram message Smartdesk does not show)")
    reply_to = (
        message_external_id(message.chat_id, message.reply_to_message_id)
        if message.reply_to_message_id
        else None
    )
    message_services.message_receive(
        inbox=inbox,
        customer=customer,
        body=body,
        external_id=message.external_id,
        attachments=attachments,
        entities=message.entities,
        reply_to_external_id=reply_to,
        media_group_id=message.media_group_id,
    )


def _fetch(client: TelegramClient, file: IncomingFile, *, final: bool = False) -> dict[str, Any]:
    """Download one file with getFile into our storage. A file over the limits is kept as a
    name with the reason, never silently dropped; a transient error retries the update, and
    on the last try the file is kept as its name with the reason too."""
    content_type = guess_type(file.name, file.content_type)
    base = {"name": file.name, "content_type": content_type, "telegram_file_id": file.file_id}
    try:
        attachment_check(name=file.name, size=file.size, content_type=content_type)
        info = client.get_file(file.file_id)
        path = info.get("file_path") if isinstance(info, dict) else None
        if not path:
            return {**base, "error": _("Telegram did not give the file (over 20 MB?).")}
        content = client.download(path, limit=max_bytes())
        stored = attachment_store(name=file.name, content=content, content_type=content_type)
        return {**stored, "telegram_file_id": file.file_id}
    except AttachmentRefused as refusal:
        return {**base, "size": file.size, "error": " ".join(refusal.messages)}
    except FileTooLarge:
        return {**base, "error": _("The file is larger than the attachment limit.")}
    except TelegramError as problem:
        if problem.transient and not final:
            raise Retry(redact(str(problem))) from problem
        return {
            **base,
            "size": file.size,
            "error": (
                _("Telegram did not give the file: %(reason)s")
                % {"reason": redact(problem.description)}
            )[:200],
        }


def _answer_callback(client: TelegramClient, callback: CallbackQuery, *, final: bool) -> None:
    """Every callback query must be answered, or the button spins on the customer's screen.
    A query answered twice (a retried update) is refused by Telegram: that is fine."""
    try:
        client.answer_callback_query(callback.id)
    except TelegramError as problem:
        if problem.transient and not final:
            raise Retry(redact(str(problem))) from problem
        log.warning("answerCallbackQuery refused: %s", redact(str(problem)))


def _callback(inbox: Inbox, callback: CallbackQuery, client: TelegramClient) -> None:
    customer = Customer.objects.filter(
        identities__kind=Identity.Kind.TELEGRAM, identities__value=str(callback.sender.id)
    ).first()
    if customer is not None:
        # Before the receivers: a CSAT thank-you is worded in the language pressed in.
        customer_language_set(
            customer=customer,
            language=callback.sender.language_code,
            source=LanguageSource.CHANNEL,
        )
    # A receiver that fails (a CSAT hook) must not undo the update or retry it forever.
    for receiver, result in telegram_callback.send_robust(
        sender=Inbox,
        inbox=inbox,
        customer=customer,
        data=callback.data,
        chat_id=callback.chat_id,
        message_id=callback.message_id,
    ):
        if isinstance(result, Exception):
            log.error("telegram_callback receiver %r failed", receiver, exc_info=result)


def _member(inbox: Inbox, change: MemberChange) -> None:
    """The customer blocked (status `kicked`) or unblocked (`member`) the bot."""
    value = str(change.sender.id)
    if change.blocked:
        changed = identity_set_reachable(kind=Identity.Kind.TELEGRAM, value=value, reachable=False)
        text = _("The customer blocked the bot: replies cannot reach them in Telegram.")
    elif change.new_status == "member":
        changed = identity_set_reachable(kind=Identity.Kind.TELEGRAM, value=value, reachable=True)
        text = _("The customer unblocked the bot: replies reach them again.")
    else:
        return
    if changed:
        conversation_note(inbox, value, text)


def conversation_note(inbox: Inbox, telegram_user: str, text: str) -> None:
    """A system line in the customer's current conversation in this inbox (if any), so the
    operator who is answering sees it in the thread."""
    conversation = (
        Conversation.objects.filter(
            inbox=inbox,
            deleted_at__isnull=True,
            customer__identities__kind=Identity.Kind.TELEGRAM,
            customer__identities__value=telegram_user,
        )
        .exclude(status=Conversation.Status.CLOSED)
        .order_by("-created_at")
        .first()
    )
    if conversation is not None:
        message_services.message_system(conversation=conversation, body=text)


def allowed_updates() -> list[str]:
    return list(HANDLED)


def inbox_for_webhook(inbox_id: int) -> Inbox | None:
    return Inbox.objects.filter(pk=inbox_id, kind=Inbox.Kind.TELEGRAM).first()
