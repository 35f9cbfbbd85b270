"""Hand-over cards of stored conversations: the dialog read from the messages, summarised by
`analytics.ai.summary`, shown on the thread page and stored for the record on close."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from analytics.ai.summary import CUSTOMER, OPERATOR, Summary, Turn, summarize
from analytics.models import ConversationSummary
from chats.models import Conversation, Message
from smartdesk.core.oncommit import after_commit

logger = logging.getLogger(__name__)

# The newest messages a card reads: a long conversation's hand-over is about its end.
MAX_MESSAGES = 60


def conversation_dialog(conversation_id: int) -> list[Turn]:
    """The customer's and the operators' messages (not notes, not system events, not deleted
    ones), oldest first."""
    rows = list(
        Message.objects.filter(
            conversation_id=conversation_id,
            deleted_at__isnull=True,
            kind__in=[Message.Kind.INBOUND, Message.Kind.OUTBOUND],
        )
        .exclude(body="")
        .order_by("-created_at", "-pk")
        .values_list("kind", "body")[:MAX_MESSAGES]
    )
    rows.reverse()
    return [
        Turn(role=CUSTOMER if kind == Message.Kind.INBOUND else OPERATOR, text=body)
        for kind, body in rows
    ]


def _stored_label(conversation: Conversation) -> tuple[str | None, list[str]]:
    """The label and topics the classifier stored (an operator's correction first), with the
    conversation's own topic; (None, [topic]) before it has classified the conversation."""
    from analytics.ai.models import Classification

    topics = [conversation.topic] if conversation.topic else []
    row = Classification.objects.filter(conversation_id=conversation.pk).first()
    if row is None:
        return None, topics
    label = "unsure" if row.unsure and not row.is_corrected else row.shown_label
    return label, [*topics, *(t for t in row.shown_topics if t not in topics)]


def dialog_of(messages: Iterable[Message]) -> list[Turn]:
    """The dialog of messages already loaded (the thread page's timeline), oldest first."""
    return [
        Turn(role=CUSTOMER if m.kind == Message.Kind.INBOUND else OPERATOR, text=m.body)
        for m in messages
        if m.deleted_at is None
        and m.kind in (Message.Kind.INBOUND, Message.Kind.OUTBOUND)
        and m.body.strip()
    ]


def conversation_summary(
    conversation: Conversation,
    *,
    messages: Iterable[Message] | None = None,
    llm: bool | None = False,
) -> Summary | None:
    """A fresh card for the thread page: offline by default, and with the stored label, so a
    page never waits on a model. `messages`: the page's own, to save reading them again."""
    dialog = dialog_of(messages) if messages is not None else conversation_dialog(conversation.pk)
    if not dialog:
        return None
    label, topics = _stored_label(conversation)
    return summarize(dialog, label=label, topics=topics, classify=False, llm=llm)


@transaction.atomic
def conversation_summary_store(*, conversation_id: int) -> ConversationSummary | None:
    """Store (or rewrite) the summary of a conversation for the record; the LLM writes it when
    one is configured. Safe to run twice. Returns None when the conversation is gone or
    has no dialog."""
    conversation = Conversation.objects.filter(pk=conversation_id).first()
    if conversation is None:
        return None
    dialog = conversation_dialog(conversation_id)
    if not dialog:
        return None
    label, topics = _stored_label(conversation)
    # Not classified yet (the classifier's own task may run after this one): ask it now.
    summary = summarize(dialog, label=label, topics=topics, classify=label is None, llm=None)
    row, _created = ConversationSummary.objects.update_or_create(
        conversation_id=conversation_id,
        defaults={
            "text": summary.text,
            "lang": summary.lang,
            "source": summary.source,
            "label": summary.card.label or "",
            "topics": summary.card.topics,
            "facts": summary.card.facts.as_dict(),
            "messages_seen": len(dialog),
            "updated_at": timezone.now(),
        },
    )
    return row


def on_conversation_closed(sender: Any, id: int, **kwargs: Any) -> None:
    """After the close committed: store the summary in a task (it may call the LLM)."""
    from analytics.tasks import store_summary

    after_commit(store_summary.delay, id, name="store-summary")
