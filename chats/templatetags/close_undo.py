"""`{% close_undo conversation as undo %}`: the undo offer right after a close."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

from chats.services.conversations import close_undoable_until

register = template.Library()


@register.simple_tag
def close_undo(conversation: Any, list_query: str = "") -> dict[str, Any] | None:
    """The undo form's URL and until when it works; None once the window has passed."""
    until = close_undoable_until(conversation)
    if until is None:
        return None
    url = reverse("conversation-undo-close", args=[conversation.pk]) + (list_query or "")
    return {"url": url, "until": until}
