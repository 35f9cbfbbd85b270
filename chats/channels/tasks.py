"""Celery adapters for the channels: they take ids, re-read, and are safe to run twice."""

from __future__ import annotations

import logging
import random
from datetime import datetime
from typing import Any

from celery import shared_task

from smartdesk.core.oncommit import after_commit

log = logging.getLogger(__name__)

PROCESS_MAX_RETRIES = 6
PUSH_MAX_RETRIES = 6


def _backoff(retries: int, cap: float = 300) -> float:
    countdown = min(cap, 2 ** (retries + 1))
    return countdown / 2 + random.uniform(0, countdown / 2)  # noqa: S311 - jitter


@shared_task(bind=True, max_retries=PROCESS_MAX_RETRIES, acks_late=True)
def process_telegram_update(self: Any, update_pk: int) -> str:
    """Act on one stored Telegram update (idempotent on the update row). A transient Bot API
    error retries with backoff; the last try stores the message with the files Telegram did
    not give marked failed. Any failure is noted on the update; the sweep queues updates
    still unprocessed later, so none is lost."""
    from chats.channels.telegram.ingest import (
        Retry,
        telegram_update_failed,
        telegram_update_process,
    )

    tries = self.request.retries
    while True:
        try:
            return telegram_update_process(update_pk=update_pk, final=tries >= self.max_retries)
        except Retry as problem:
            telegram_update_failed(update_pk=update_pk, problem=problem)
            if not self.request.is_eager:
                raise self.retry(exc=problem, countdown=_backoff(tries)) from problem
            tries += 1  # eager (no broker): nothing to wait in, try again now
        except Exception as problem:
            log.exception("telegram update %s failed", update_pk)
            telegram_update_failed(update_pk=update_pk, problem=problem)
            raise


@shared_task
def sweep_telegram_updates() -> int:
    """Beat: queue again every update left unprocessed (see `telegram_updates_stale`)."""
    from chats.channels.telegram.ingest import _enqueue, telegram_updates_stale

    stale = telegram_updates_stale()
    for update_pk in stale:
        _enqueue(update_pk)
    return len(stale)


@shared_task(bind=True, acks_late=True)
def deliver_reply(self: Any, message_id: int, token: str | None = None) -> str:
    """Deliver one reply (`message_deliver`: claimed first, so copies of this task from a
    broker redelivery and from the sweep never send it twice). A transient failure is
    retried after the wait the service recorded, carrying the reservation it was given as
    `token`; the service counts the tries and fails the reply when they are spent. A wait
    longer than the backoff cap (a long 429) is not kept in the broker: the sweep brings the
    reply back when it is due. Run eagerly (no broker), the retries happen at once."""
    from chats.services.messages import DELIVERY_BACKOFF_MAX, DeliveryPostponed, message_deliver

    due = datetime.fromisoformat(token) if token else None
    while True:
        try:
            return message_deliver(message_id=message_id, token=due)
        except DeliveryPostponed as later:
            if self.request.is_eager:
                due = later.due  # no queue to wait in: try again now
                continue
            if later.seconds > DELIVERY_BACKOFF_MAX:
                return "queued"
            raise self.retry(
                exc=later,
                countdown=later.seconds,
                args=[message_id],
                kwargs={"token": later.due.isoformat()},
                max_retries=None,
            ) from later


@shared_task
def sweep_stuck_deliveries() -> int:
    """Beat, every DELIVERY_SWEEP_SECONDS: queue again each reply whose task was lost or
    whose claim ran out (`message_delivery_due`). Each enqueue is isolated: a broker
    refusing one does not stop the others (they stay due for the next sweep)."""
    from chats.services.messages import message_delivery_due

    due = message_delivery_due()
    for message_id in due:
        after_commit(deliver_reply.delay, message_id, name="deliver-reply")
    return len(due)


@shared_task(bind=True, max_retries=PUSH_MAX_RETRIES, acks_late=True)
def deliver_push(self: Any, message_id: int) -> str:
    """POST one reply to the app backend's push webhook; each try is recorded. Retried with
    exponential backoff on a network error or a 5xx / 429 answer."""
    from chats.channels.client.delivery import PushFailed, push_attempt

    tries = self.request.retries
    while True:
        try:
            return push_attempt(message_id=message_id, final=tries >= self.max_retries)
        except PushFailed as problem:
            if not self.request.is_eager:
                raise self.retry(exc=problem, countdown=_backoff(tries)) from problem
            tries += 1
