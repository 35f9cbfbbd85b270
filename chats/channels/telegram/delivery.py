"""Telegram out: the adapter that sends an operator's reply, and webhook registration.

Called by `chats.services.messages.message_deliver` outside any transaction (no row lock over
the network or a 429 pause); every Bot API call is recorded as a `DeliveryAttempt` at once,
with the part of the reply it was for, so a retry resumes at the first part not yet sent.

- 429: a short `retry_after` is waited out here; a longer one goes back to the task with
  that countdown (`RetryLater`).
- 400 with `migrate_to_chat_id`: the chat became a supergroup; send there, remember it.
- 403: the customer blocked the bot — the message fails with that reason, the identity is
  marked unreachable, and the thread says so.
- other 400s fail the message with Telegram's description; 5xx and network errors retry.
"""

from __future__ import annotations

import re
import time
import unicodedata
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.utils.translation import gettext as _

from chats.adapters import ChannelAdapter, NotDeliverable, RetryLater, TransientDeliveryError
from chats.channels.telegram.client import TelegramClient, TelegramError
from chats.channels.telegram.updates import HANDLED, message_external_id
from chats.models import DeliveryAttempt, Inbox, Message, TelegramChat
from customers.identities import identity_set_reachable
from customers.models import Identity

CAPTION_LIMIT = 1024
# sendMessage takes 1-4096 characters of text; counted in UTF-16 code units here (see
# `utf16_len`), which is never less than Telegram's count, whichever it uses.
TEXT_LIMIT = 4096


class TelegramAdapter(ChannelAdapter):
    kind = Inbox.Kind.TELEGRAM

    def secret_changed(self, inbox: Inbox) -> None:
        """The inbox secret is also the webhook's `secret_token`: the webhook is registered
        again with the new one, and if Telegram refuses, the secret is not changed
        (ValidationError) so that updates keep arriving with the old one."""
        if not inbox.bot_token:
            return
        try:
            telegram_webhook_register(inbox=inbox)
        except WebhookNotSet as problem:
            raise ValidationError(
                _("The secret was not changed: %(reason)s") % {"reason": problem}
            ) from problem

    def _send(self, message: Message) -> str | None:
        """Send the reply's parts in order, resuming after the last part that went out: a
        part that succeeded is recorded (committed at once, no lock held over the network),
        so a retry after a failure on the photo does not send the text again."""
        inbox = message.inbox
        if not inbox.bot_token:
            raise NotDeliverable(_("This Telegram inbox has no bot token."))
        chat = TelegramChat.objects.filter(
            inbox=inbox, customer_id=message.conversation.customer_id
        ).first()
        if chat is None:
            raise NotDeliverable(
                _("The customer has not written to this bot, so it cannot write to them.")
            )
        parts = _parts(message)
        if not parts:
            raise NotDeliverable(_("The reply is empty."))
        done = dict(
            DeliveryAttempt.objects.filter(
                message=message,
                target=DeliveryAttempt.Target.TELEGRAM,
                ok=True,
                part__isnull=False,
            ).values_list("part", "external_id")
        )
        from chats.services.messages import message_delivery_keep_claim

        client = TelegramClient(inbox.bot_token)
        external_id: str | None = None
        first = True
        for index, part in enumerate(parts):
            if index in done:
                external_id = done[index] or external_id
                continue
            if not first:
                # Each part renews the claim: a long reply never outlives it, and a task that
                # lost it (it ran out, another took over) stops before sending more.
                message_delivery_keep_claim()
            first = False
            external_id = _send_part(client, chat, message, index, part)
        return external_id


def _send_part(
    client: TelegramClient, chat: TelegramChat, message: Message, index: int, part: Part
) -> str:
    """One Bot API message of the reply; every call is a DeliveryAttempt."""
    waited = migrated = False
    while True:
        try:
            result = _call(client, chat.chat_id, part)
        except TelegramError as problem:
            _record(message, client, ok=False, part=index, method=part.method)
            if problem.migrate_to_chat_id and not migrated:
                migrated = True
                chat.chat_id = int(problem.migrate_to_chat_id)
                chat.save(update_fields=["chat_id", "updated_at"])
                continue
            if problem.status_code == 429:
                wait = problem.retry_after or 1.0
                if not waited and wait <= settings.TELEGRAM_INLINE_RETRY_SECONDS:
                    waited = True
                    time.sleep(wait)  # Telegram asked for exactly this pause
                    continue
                raise RetryLater(
                    _("Telegram asks to wait %(n)d s (too many messages).") % {"n": wait},
                    seconds=wait,
                ) from problem
            if problem.transient:
                raise TransientDeliveryError(problem.description) from problem
            if problem.blocked:
                _blocked(message)
                raise NotDeliverable(
                    _("The customer blocked the bot (Telegram: %(reason)s).")
                    % {"reason": problem.description}
                ) from problem
            raise NotDeliverable(
                _("Telegram refused the message: %(reason)s") % {"reason": problem.description}
            ) from problem
        external_id = message_external_id(chat.chat_id, result["message_id"])
        _record(message, client, ok=True, part=index, method=part.method, external_id=external_id)
        return external_id


@dataclass
class Part:
    """One Telegram message of a reply: a text, or a file with an optional caption."""

    method: str
    text: str = ""
    attachment: dict[str, Any] | None = None


def _parts(message: Message) -> list[Part]:
    """The reply as Telegram messages: the text (split when longer than Telegram takes,
    see `split_text`), then each file (the text as the caption of the first when it fits).
    The same reply always gives the same parts, so a part's index names it across retries."""
    files = [a for a in message.attachments or [] if isinstance(a, dict)]
    text = message.body
    parts: list[Part] = []
    if text and (not files or utf16_len(text) > CAPTION_LIMIT):
        parts.extend(Part("sendMessage", text=chunk) for chunk in split_text(text))
        text = ""
    for attachment in files:
        content_type = str(attachment.get("content_type") or "")
        method = "sendPhoto" if content_type.startswith("image/") else "sendDocument"
        parts.append(Part(method, text=text, attachment=attachment))
        text = ""
    return parts


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit Telegram measures text in (an emoji outside
    the Basic Multilingual Plane counts 2)."""
    return len(text.encode("utf-16-le")) // 2


# Where a long text may be cut, best first: between paragraphs, between lines, after a
# sentence (its closing quotes or brackets kept), between words. A cut is an index into the
# text; the whitespace around it is dropped.
_CUTS = (
    (re.compile(r"\n[ \t]*\n"), "start"),
    (re.compile(r"\n"), "start"),
    (re.compile(r"[.!?…]+[\"'»”)\]]*(?=\s)"), "end"),
    (re.compile(r"\s"), "start"),
)


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """`text` as Telegram messages of at most `limit` UTF-16 code units each, in order: each
    cut at the last paragraph break that fits, else the last line break, else the end of the
    last sentence, else the last space; inside a word only when one word alone is longer
    than the limit (and then never inside a character or before a combining mark)."""
    parts: list[str] = []
    rest = text.strip()
    while rest:
        fits = _prefix_within(rest, limit)
        if fits == len(rest):
            parts.append(rest)
            break
        cut = _best_cut(rest, fits)
        head, rest = rest[:cut].rstrip(), rest[cut:].lstrip()
        parts.append(head)
    return parts


def _prefix_within(text: str, limit: int) -> int:
    """How many characters from the start of `text` fit in `limit` UTF-16 code units."""
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)


def _best_cut(text: str, fits: int) -> int:
    # One character past the window: a space right after it is a word boundary that fits.
    window = text[: fits + 1]
    for pattern, side in _CUTS:
        cuts = [m.start() if side == "start" else m.end() for m in pattern.finditer(window)]
        cuts = [cut for cut in cuts if 0 < cut <= fits and text[:cut].strip()]
        if cuts:
            return cuts[-1]
    cut = fits
    while cut > 1 and (unicodedata.combining(text[cut]) or text[cut] in "\u200d\ufe0f"):
        cut -= 1  # keep an accent or an emoji sequence with its base character
    return max(cut, 1)


def _call(client: TelegramClient, chat_id: int, part: Part) -> dict[str, Any]:
    if part.attachment is None:
        return client.send_message(chat_id, part.text)
    attachment = part.attachment
    content_type = str(attachment.get("content_type") or "")
    field = "photo" if part.method == "sendPhoto" else "document"
    upload = None
    if attachment.get("path"):
        with default_storage.open(attachment["path"], "rb") as handle:
            upload = (str(attachment.get("name") or "file"), handle.read(), content_type)
    return client.send_file(
        part.method,
        field,
        chat_id,
        caption=part.text,
        url=str(attachment.get("url") or ""),
        upload=upload,
    )


def _record(
    message: Message,
    client: TelegramClient,
    *,
    ok: bool,
    part: int | None = None,
    method: str = "",
    external_id: str = "",
) -> None:
    last = client.last
    DeliveryAttempt.objects.create(
        message=message,
        target=DeliveryAttempt.Target.TELEGRAM,
        status_code=last.status_code if last else None,
        ok=ok,
        error=(last.error if last else "")[:500],
        duration_ms=last.duration_ms if last else 0,
        part=part,
        method=method,
        external_id=external_id,
    )


def _blocked(message: Message) -> None:
    from chats.services.messages import message_system

    value = (
        Identity.objects.filter(
            customer_id=message.conversation.customer_id, kind=Identity.Kind.TELEGRAM
        )
        .values_list("value", flat=True)
        .first()
    )
    if value and identity_set_reachable(kind=Identity.Kind.TELEGRAM, value=value, reachable=False):
        message_system(
            conversation=message.conversation,
            body=_("The customer blocked the bot: replies cannot reach them in Telegram."),
        )


# --- webhook registration --------------------------------------------------------------------


class WebhookNotSet(Exception):
    pass


def webhook_url(inbox: Inbox, base_url: str = "") -> str:
    from django.urls import reverse

    base = (base_url or settings.PUBLIC_BASE_URL).rstrip("/")
    if not base:
        raise WebhookNotSet(_("Set PUBLIC_BASE_URL (the https address Telegram can reach)."))
    return base + reverse("telegram-webhook", args=[inbox.pk])


def telegram_webhook_register(*, inbox: Inbox, base_url: str = "") -> str:
    """Call setWebhook for the inbox's bot: our URL, the inbox secret as `secret_token`, and
    the update types we handle as `allowed_updates`. Returns the URL registered."""
    if inbox.kind != Inbox.Kind.TELEGRAM:
        raise WebhookNotSet(_("%(name)s is not a Telegram inbox.") % {"name": inbox.name})
    if not inbox.bot_token:
        raise WebhookNotSet(_("%(name)s has no bot token.") % {"name": inbox.name})
    url = webhook_url(inbox, base_url)
    try:
        TelegramClient(inbox.bot_token).set_webhook(
            url, secret_token=inbox.secret, allowed_updates=list(HANDLED)
        )
    except TelegramError as problem:
        raise WebhookNotSet(
            _("Telegram refused setWebhook: %(reason)s") % {"reason": problem.description}
        ) from problem
    return url
