"""What a new conversation brings to the queue: its weight (by channel) and the priority it
starts with (the customer's loyalty tier may raise it)."""

from __future__ import annotations

import logging

from django.conf import settings

from chats.models import Conversation
from customers.selectors import loyalty_priority

log = logging.getLogger(__name__)


def channel_weight(kind: str) -> int:
    return max(1, int(settings.DISTRIBUTION_WEIGHTS.get(kind, 1)))


def initial_priority(customer_id: int) -> int:
    """The priority a new conversation starts with: normal, or higher when the customer's
    loyalty tier asks for it (a top tier's conversations are served first)."""
    priority = Conversation.Priority.NORMAL
    try:
        asked = loyalty_priority(customer_id)
    except Exception:  # a failing lookup must not lose the customer's message
        log.exception("loyalty priority of customer %s failed", customer_id)
        return priority
    if asked is not None and asked in Conversation.Priority.values:
        priority = max(priority, asked)
    return priority
