"""Celery adapters for chats services: they take ids and are safe to run twice."""

from __future__ import annotations

import random
from typing import Any

from celery import shared_task

from chats.adapters import RetryLater, TransientDeliveryError
from chats.services import conversations, messages

DELIVERY_MAX_RETRIES = 8
DELIVERY_BACKOFF_MAX = 300


@shared_task(bind=True, max_retries=DELIVERY_MAX_RETRIES, acks_late=True)
def deliver_message(self: Any, message_id: int) -> str:
    """Deliver one reply. A 429 is retried after the `retry_after` the channel asked for,
    other transient errors with exponential backoff and jitter; when the retries are spent
    the message is marked failed, visibly. Run eagerly (the embedded product, no broker),
    the retries happen at once, in a loop: there is no queue to wait in."""
    tries = self.request.retries
    while True:
        try:
            return messages.message_deliver(message_id=message_id)
        except RetryLater as problem:
            error: TransientDeliveryError = problem
            countdown = max(1.0, problem.seconds)
        except TransientDeliveryError as problem:
            error = problem
            countdown = min(DELIVERY_BACKOFF_MAX, 2 ** (tries + 1))
            countdown = countdown / 2 + random.uniform(0, countdown / 2)  # noqa: S311 - jitter
        if tries >= self.max_retries:
            return messages.message_delivery_give_up(message_id=message_id, reason=str(error))
        if self.request.is_eager:
            tries += 1
            continue
        raise self.retry(exc=error, countdown=countdown)


# The channel tasks (Telegram updates, app push webhooks) register with the worker here.
from chats.channels import tasks as _channel_tasks  # noqa: E402, F401


@shared_task
def wake_due_conversations() -> int:
    """The sweep: materialise every snooze whose time has passed (the lists already show
    them as open)."""
    return conversations.conversations_wake_due()


@shared_task
def prune_live_events() -> int:
    from smartdesk.services import live_events_prune

    return live_events_prune()


# --- distribution (docs/distribution.md) ---------------------------------------------------


@shared_task(acks_late=True)
def assign_conversation(conversation_id: int, exclude_user_id: int | None = None) -> int | None:
    """Place one waiting conversation; returns the operator's id, or None if it waits."""
    from chats.services import distribution

    return distribution.distribute_conversation(conversation_id, exclude_user_id=exclude_user_id)


@shared_task(acks_late=True)
def fill_operator(user_id: int) -> int:
    """An operator came online or freed capacity: give them what waits for them."""
    from chats.services import distribution

    return distribution.distribute_to_operator(user_id)


@shared_task
def distribution_sweep() -> int:
    """The safety net: presence timeouts, reassignment of unanswered conversations of away
    operators, and a pass over every team queue."""
    from chats.services import distribution

    return distribution.distribution_sweep()
