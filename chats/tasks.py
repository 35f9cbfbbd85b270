"""Celery adapters for chats services: they take ids and are safe to run twice."""

from __future__ import annotations

from celery import shared_task

# The channel tasks (Telegram updates, app push webhooks) register with the worker here.
from chats.channels import tasks as _channel_tasks  # noqa: F401
from chats.services import close_undo, conversations


@shared_task
def wake_due_conversations() -> int:
    """The sweep: materialise every snooze whose time has passed (the lists already show
    them as open)."""
    return conversations.conversations_wake_due()


@shared_task
def prune_live_events() -> int:
    from smartdesk.core.services import live_events_prune

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


# --- undo for close (chats.services.close_undo) --------------------------------------------


@shared_task(acks_late=True)
def conversation_close_settled(conversation_id: int, closed_at: str) -> bool:
    """The undo window of a close has passed: if that close still stands and nobody settled it
    yet, what follows a close (survey, AI summary and classification) is set off now. Safe to
    run twice or early (a claim in the database: see `close_undo.conversation_close_settle`)."""
    from datetime import datetime

    return close_undo.conversation_close_settle(
        conversation_id=conversation_id, closed_at=datetime.fromisoformat(closed_at)
    )


@shared_task
def settle_closed_conversations() -> int:
    """The sweep: settle every close past its undo window that no task settled (a lost task, a
    conversation deleted and restored meanwhile, the embedded product's eager Celery)."""
    return close_undo.conversations_settle_closed()
