"""What every message service shares: the limits, the body check and the list preview."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from chats.models import Conversation, Message

Status = Conversation.Status
Kind = Message.Kind

MAX_BODY = 10_000
PREVIEW = 200


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
