"""Conversations an operator starts (outreach): a follow-up after a call, for instance.

Inbound conversations are opened by the customer's first message (`messages.message_receive`);
here the operator opens one for a customer, in an inbox they choose, and takes it at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from chats.events import publish_conversation_changed
from chats.models import Conversation, ConversationEvent, Inbox
from chats.services.common import _record
from chats.services.conversations import conversation_assign
from chats.services.distribution import channel_weight, initial_priority
from chats.services.messages import message_note
from customers.models import Customer

MAX_TOPIC = 100


@transaction.atomic
def conversation_open_by_operator(
    *,
    customer: Customer,
    inbox: Inbox,
    actor: Any,
    topic: str = "",
    note: str = "",
    source: Mapping[str, Any] | None = None,
) -> Conversation:
    """Open a conversation for `customer` in `inbox`, assigned to `actor`, in one transaction.

    - the conversation starts open in the inbox's default team, with the customer's priority
      and the channel's load weight (as an inbound one would);
    - it is given to `actor` through `conversation_assign`, so the capacity and load rules of
      docs/distribution.md apply: an operator at capacity is refused (`ActionRefused`) unless
      their role may exceed it, and nothing is stored;
    - the `created` event carries `source` (e.g. `{"source": "call", "call_id": 7}`), the
      optional `note` becomes an internal note, and `conversation.changed` is published on
      commit.

    Whatever their role's scope, `actor` sees the conversation: it is assigned to them.
    """
    if not inbox.is_active:
        raise ValidationError(_("The inbox “%(name)s” is not active.") % {"name": inbox})
    extra = dict(source or {})
    extra.pop("inbox", None)  # the event's own key
    conversation = Conversation.objects.create(
        customer=customer,
        inbox=inbox,
        team=inbox.default_team,
        status=Conversation.Status.OPEN,
        topic=(topic or "").strip()[:MAX_TOPIC],
        priority=initial_priority(customer.pk),
        load_weight=channel_weight(inbox.kind),
    )
    _record(conversation, ConversationEvent.Type.CREATED, actor, inbox=inbox.pk, **extra)
    conversation = conversation_assign(conversation=conversation, operator=actor, actor=actor)
    if (note or "").strip():
        message_note(conversation=conversation, author=actor, body=note)
    publish_conversation_changed(conversation, change=ConversationEvent.Type.CREATED)
    return conversation
