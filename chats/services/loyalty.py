"""Loyalty from a conversation: goodwill granted by the operator, in the ledger and in the
conversation's own trail (a system line in the thread), in one transaction."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from chats.models import Conversation
from chats.services.messages import message_system
from customers.loyalty import Goodwill, goodwill_grant


@transaction.atomic
def conversation_goodwill_grant(
    *, conversation: Conversation, points: int, reason: str, actor: Any
) -> Goodwill:
    """Grant goodwill points to the conversation's customer (within the actor's role limit;
    above it, a request an admin approves). Writes the ledger line or the request, and a
    system line in the thread naming who, how much and why."""
    outcome = goodwill_grant(
        customer=conversation.customer,
        points=points,
        reason=reason,
        actor=actor,
        conversation_id=conversation.pk,
    )
    values = {"actor": str(actor), "points": points, "reason": reason.strip()}
    if outcome.pending:
        body = _(
            "%(actor)s asked for %(points)d goodwill points (waiting for approval): %(reason)s"
        )
    else:
        body = _("%(actor)s granted %(points)d goodwill points: %(reason)s")
    message_system(conversation=conversation, body=body % values)
    return outcome
