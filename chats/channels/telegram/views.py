"""`POST /integrations/telegram/<inbox_id>/webhook`: Telegram's webhook for one inbox.

Checks `X-Telegram-Bot-Api-Secret-Token` against the inbox secret in constant time (403
otherwise, the same answer for an unknown inbox), parses the body (400 if it is not an
update, 413 if it is too large, both JSON), stores it once and answers 200 at once; the
work happens in a task.
"""

from __future__ import annotations

import hmac

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from chats.channels.telegram.ingest import inbox_for_webhook, telegram_update_accept
from chats.channels.telegram.updates import MalformedUpdate
from smartdesk.core.parsers import loads_bounded

MAX_BODY_BYTES = 1_000_000
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name


def _error(status: int, detail: str) -> JsonResponse:
    return JsonResponse({"ok": False, "detail": detail}, status=status)


@csrf_exempt  # Telegram holds no session; the secret token is the credential
@require_POST
def telegram_webhook(request: HttpRequest, inbox_id: int) -> JsonResponse:
    inbox = inbox_for_webhook(inbox_id)
    given = request.headers.get(SECRET_HEADER, "")
    expected = inbox.secret if inbox is not None else "-" * 43
    # Compared even for an unknown inbox, so timing tells nothing about which ids exist.
    matches = hmac.compare_digest(given.encode(), expected.encode())
    if inbox is None or not given or not matches:
        return _error(403, _("Wrong or missing secret token."))
    if not inbox.is_active:
        return _error(403, _("This inbox is not active."))
    try:
        body = request.body
    except RequestDataTooBig:
        body = None
    if body is None or len(body) > MAX_BODY_BYTES:
        return _error(413, _("The update is too large."))
    try:
        payload = loads_bounded(body)
        accepted = telegram_update_accept(inbox=inbox, payload=payload)
    except (ValueError, MalformedUpdate) as problem:  # UnsafeJson is a ValueError
        return _error(400, _("Not a Telegram update: %(reason)s") % {"reason": problem})
    return JsonResponse({"ok": True, "duplicate": not accepted})
