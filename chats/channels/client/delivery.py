"""Replies to widget and app clients: a ring on their WebSocket, and for mobile inboxes a
signed push webhook to the app's backend (each attempt recorded, retried with backoff).

Webhook request: `POST <inbox.push_url>` with a JSON body and
`X-Smartdesk-Signature: t=<unix time>,v1=<hex HMAC-SHA256(inbox secret, "<t>.<body>")>`.
The receiver recomputes the HMAC over the raw body and rejects old timestamps.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.utils.translation import gettext as _

from chats.adapters import ChannelAdapter
from chats.attachment_links import attachment_client_url
from chats.models import DeliveryAttempt, Inbox, Message
from customers.models import Identity
from smartdesk.core.oncommit import after_commit
from smartdesk.core.realtime import send_now

SIGNATURE_HEADER = "X-Smartdesk-Signature"


class PushFailed(Exception):
    """Worth retrying: a network error, a 5xx, a 429."""


def client_group(inbox_id: int, subject: str) -> str:
    return f"client.{inbox_id}.{subject}"


def client_groups(message: Message) -> list[str]:
    """Every client socket of the conversation's customer in this inbox."""
    return customer_client_groups(message.inbox_id, message.conversation.customer_id)


def customer_client_groups(inbox_id: int, customer_id: int) -> list[str]:
    """Every client socket of a customer in an inbox: as the customer, and as each anonymous
    visitor id they had before identifying."""
    groups = [client_group(inbox_id, f"c{customer_id}")]
    # Only visitor ids never claimed by an identify: once claimed (`claimed:<id>`), the old
    # visitor token no longer speaks for this customer and its socket hears nothing more.
    for value in Identity.objects.filter(
        customer_id=customer_id, kind=Identity.Kind.WIDGET, value__startswith="visitor:"
    ).values_list("value", flat=True):
        groups.append(client_group(inbox_id, "v" + value.split(":", 1)[1]))
    return groups


def client_message_data(message: Message) -> dict[str, Any]:
    """A message as the customer sees it: no notes, no internal fields, no storage paths."""
    author = message.author
    return {
        "id": message.pk,
        "conversation_id": message.conversation_id,
        "from": "customer" if message.kind == Message.Kind.INBOUND else "operator",
        "author": (author.first_name or author.get_username()) if author else "",
        "text": message.body,
        "attachments": [
            _client_attachment(message, index, a)
            for index, a in enumerate(message.attachments or [])
            if isinstance(a, dict)
        ],
        "created_at": message.created_at.isoformat(),
    }


def _client_attachment(message: Message, index: int, item: dict[str, Any]) -> dict[str, Any]:
    """A file as the customer sees it: a stored one links to the download view with a grant
    for this file (never the storage path, never their token in the URL)."""
    data = {k: item[k] for k in ("name", "size", "content_type") if k in item}
    if item.get("path"):
        data["url"] = attachment_client_url(message, index, message.conversation.customer_id)
    elif isinstance(item.get("url"), str) and item["url"].startswith(("https://", "http://")):
        data["url"] = item["url"]
    return data


def client_notify(message: Message) -> None:
    """After commit: ring the customer's client sockets with the reply; queue the app push."""
    payload = {"type": "message", "message": client_message_data(message)}
    groups = client_groups(message)
    after_commit(send_now, payload, groups, name="client-live-send")
    if message.inbox.kind == Inbox.Kind.MOBILE and message.inbox.push_url:
        from chats.channels.tasks import deliver_push

        after_commit(deliver_push.delay, message.pk, name="deliver-push")


class PullAdapter(ChannelAdapter):
    """Channels whose client fetches replies itself (widget, mobile app, API clients) over the
    REST API or its WebSocket: storing the reply is delivering it. Connected clients get a
    ring on their socket; a mobile inbox with a push URL also gets a signed webhook (its own
    task, its own retries and recorded attempts) so the app can send a push notification."""

    def _send(self, message: Message) -> str | None:
        client_notify(message)
        return None


def push_signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def push_body(message: Message) -> dict[str, Any]:
    customer = message.conversation.customer
    app_ids = list(
        customer.identities.filter(kind=Identity.Kind.APP).values_list("value", flat=True)
    )
    return {
        "event": "message.created",
        "inbox": message.inbox.key,
        "customer": {"id": customer.pk, "user_ids": app_ids},
        "message": client_message_data(message),
    }


def push_target_refusal(url: str) -> str:
    """Why the push URL may not be called, or "": its host must resolve to public addresses
    only — never loopback, private, link-local (cloud metadata) or reserved ones — unless
    `PUSH_ALLOW_PRIVATE` (an app backend on the internal network). The address is checked
    when each push is made."""
    if settings.PUSH_ALLOW_PRIVATE:
        return ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return _("The push URL is not an http(s) address.")
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return _("The push URL's host does not resolve.")
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not address.is_global or address.is_multicast:
            return _(
                "The push URL points at an internal address (%(address)s); "
                "set PUSH_ALLOW_PRIVATE to allow it."
            ) % {"address": address}
    return ""


def push_attempt(*, message_id: int, final: bool = False) -> str:
    """One try at the push webhook. 'sent', 'failed' (a 4xx, or the last try), or PushFailed
    for the task to retry. A message already pushed is not pushed again."""
    message = (
        Message.objects.select_related("inbox", "conversation__customer", "author")
        .filter(pk=message_id)
        .first()
    )
    if message is None or not message.inbox.push_url:
        return "skipped"
    if message.attempts.filter(target=DeliveryAttempt.Target.PUSH, ok=True).exists():
        return "sent"
    refusal = push_target_refusal(message.inbox.push_url)
    if refusal:
        DeliveryAttempt.objects.create(
            message=message, target=DeliveryAttempt.Target.PUSH, ok=False, error=refusal[:500]
        )
        return "failed"
    body = json.dumps(push_body(message), ensure_ascii=False, separators=(",", ":")).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: push_signature(message.inbox.secret, timestamp, body),
        "User-Agent": "Smartdesk-Push/1",
    }
    started = time.monotonic()
    status_code: int | None = None
    error = ""
    try:
        response = httpx.post(
            message.inbox.push_url,
            content=body,
            headers=headers,
            timeout=settings.PUSH_TIMEOUT_SECONDS,
        )
        status_code = response.status_code
        if not 200 <= status_code < 300:
            error = _("HTTP %(code)d from the app backend") % {"code": status_code}
    except httpx.HTTPError as problem:
        error = f"{type(problem).__name__}: {problem}"
    ok = not error
    DeliveryAttempt.objects.create(
        message=message,
        target=DeliveryAttempt.Target.PUSH,
        status_code=status_code,
        ok=ok,
        error=error[:500],
        duration_ms=int((time.monotonic() - started) * 1000),
    )
    if ok:
        return "sent"
    retryable = status_code is None or status_code >= 500 or status_code in (408, 429)
    if retryable and not final:
        raise PushFailed(error)
    return "failed"
