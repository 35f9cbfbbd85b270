"""Celery adapters for chats services: they take ids and are safe to run twice."""

from __future__ import annotations

from celery import shared_task

from chats.adapters import TransientDeliveryError
from chats.services import conversations, messages


@shared_task(
    autoretry_for=(TransientDeliveryError,),
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=8,
    acks_late=True,
)
def deliver_message(message_id: int) -> str:
    return messages.message_deliver(message_id=message_id)


@shared_task
def wake_due_conversations() -> int:
    """The sweep: materialise every snooze whose time has passed (the lists already show
    them as open)."""
    return conversations.conversations_wake_due()


@shared_task
def prune_live_events() -> int:
    from smartdesk.services import live_events_prune

    return live_events_prune()
