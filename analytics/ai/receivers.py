"""Signal receivers wired in `AiConfig.ready()`: chats sends, we classify (chats never imports
analytics). Each queues the task; the task re-reads everything."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings

log = logging.getLogger(__name__)


def on_customer_message(sender: Any, *, id: int, conversation_id: int, **kwargs: Any) -> None:
    """Classify after each of the customer's first messages (`AI_CLASSIFY_FIRST_MESSAGES`)."""
    from analytics.ai.classification import among_first_messages
    from analytics.ai.tasks_classify import classify_conversation

    if not getattr(settings, "AI_CLASSIFY_ENABLED", True):
        return
    if among_first_messages(conversation_id, id):
        classify_conversation.delay(conversation_id, "first")


def on_conversation_closed(sender: Any, *, id: int, **kwargs: Any) -> None:
    from analytics.ai.tasks_classify import classify_conversation

    if getattr(settings, "AI_CLASSIFY_ENABLED", True):
        classify_conversation.delay(id, "close")


def warm_model(**kwargs: Any) -> None:
    """In each Celery pool process as it starts: load the model before the first task, so no
    message waits behind a model load (or, with `tfidf`, a training). Loading once in the main
    process before the fork is not possible: Django (hence this app) is set up inside the
    worker's own `worker_init`, too late to join it."""
    if not getattr(settings, "AI_CLASSIFY_ENABLED", True):
        return
    from django.db import connections

    from analytics.ai import classification

    try:
        classification.current_head().predict(["warm-up"])
    except Exception:
        log.warning("the classifier could not be loaded ahead; tasks will load it", exc_info=True)
    finally:
        connections.close_all()  # never hand a connection over a fork


def connect() -> None:
    from celery.signals import worker_process_init

    from chats.signals import conversation_closed, customer_message_received

    worker_process_init.connect(warm_model, dispatch_uid="ai-warm-model", weak=False)

    customer_message_received.connect(on_customer_message, dispatch_uid="ai-classify-message")
    conversation_closed.connect(on_conversation_closed, dispatch_uid="ai-classify-close")
