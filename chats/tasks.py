"""Celery adapters for chats services: they take ids and are safe to run twice."""

from __future__ import annotations

from celery import shared_task

# The channel tasks (Telegram updates, app push webhooks) register with the worker here.
from chats.channels import tasks as _channel_tasks  # noqa: F401
from chats.services import conversations


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
