"""Delivery of replies: the outbox (docs/channels.md, "Delivery"). A claim per try, retries
with backoff, the sweep's look-up, and giving up visibly."""

from __future__ import annotations

import logging
import random
from contextvars import ContextVar
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from chats import adapters
from chats.adapters import RetryLater
from chats.events import publish_message
from chats.models import Message
from smartdesk.core.updates import model_update

log = logging.getLogger(__name__)


# The first try and 8 retries; a reply whose tries all failed (or never finished) is failed,
# visibly, with the last reason.
DELIVERY_MAX_TRIES = 9
# Backoff between transient failures (seconds, with jitter). A longer wait (Telegram's 429
# `retry_after`) is kept in the database only: the sweep brings the reply back when it is due.
DELIVERY_BACKOFF_MAX = 300


class DeliveryPostponed(RetryLater):
    """A transient failure, recorded: the reply stays queued and reserved until `due`; the
    task retries after `seconds`, passing `due` back as the token of its reservation."""

    def __init__(self, message: str, *, seconds: float, due: datetime) -> None:
        super().__init__(message, seconds=seconds)
        self.due = due


class DeliveryClaimLost(Exception):
    """Our claim ran out and another task took the reply over: stop sending at once."""


# The claim the delivery running in this thread (or task) holds: (message id, lease end).
_held: ContextVar[tuple[int, datetime] | None] = ContextVar("delivery_claim", default=None)


def _lease() -> timedelta:
    return timedelta(seconds=settings.DELIVERY_LEASE_SECONDS)


def _delivery_claim(message_id: int, token: datetime | None) -> tuple[datetime, int] | None:
    """Claim a queued reply for one try, with a conditional UPDATE (no lock held over the
    network): free when nobody holds it or its lease has run out (the holder died), or when
    `token` is the reservation this task's own retry was given. Returns (lease end, tries
    so far, this one included), or None when another task holds it or it is not queued."""
    now = timezone.now()
    until = now + _lease()
    free = Q(delivery_claimed_until__isnull=True) | Q(delivery_claimed_until__lte=now)
    if token is not None:
        free |= Q(delivery_claimed_until=token)
    # Any queued message, not only replies: the adapter refuses anything else visibly.
    won = Message.objects.filter(
        free, pk=message_id, delivery_status=Message.Delivery.QUEUED
    ).update(delivery_claimed_until=until, delivery_tries=F("delivery_tries") + 1)
    if not won:
        return None
    tries = Message.objects.filter(pk=message_id).values_list("delivery_tries", flat=True).get()
    return until, tries


def message_delivery_keep_claim() -> None:
    """For an adapter sending a reply in several calls, before each further call: renew the
    claim, or raise DeliveryClaimLost when it ran out and another task took the reply (so a
    slow delivery never overlaps the one that replaced it). Nothing outside a delivery."""
    held = _held.get()
    if held is None:
        return
    message_id, until = held
    renewed = timezone.now() + _lease()
    kept = Message.objects.filter(
        pk=message_id, delivery_status=Message.Delivery.QUEUED, delivery_claimed_until=until
    ).update(delivery_claimed_until=renewed)
    if not kept:
        raise DeliveryClaimLost(f"message {message_id}")
    _held.set((message_id, renewed))


def _backoff(tries: int) -> float:
    countdown = min(DELIVERY_BACKOFF_MAX, 2**tries)
    return countdown / 2 + random.uniform(0, countdown / 2)  # noqa: S311 - jitter


def message_deliver(*, message_id: int, token: datetime | None = None) -> str:
    """Hand a queued reply to its channel and record the outcome; returns the delivery status.

    Safe to run twice, and at once: the reply is claimed first (see `_delivery_claim`), so
    a broker's redelivery and the sweep's copy never send it while a try is in flight; a
    claim whose worker died runs out after DELIVERY_LEASE_SECONDS. The channel is called
    outside any transaction; what the adapter records (attempts, parts sent) is committed
    as it happens, so a retry resumes at the first part not sent. A refusal fails the
    message, visibly, with the channel's reason; so does any unexpected error (a stored
    file gone missing, a bug), with the traceback logged. A transient error (a 5xx, a
    timeout, a 429) is recorded on the message — still queued, the operator sees why it
    waits — and raised as DeliveryPostponed for the task to retry; after
    DELIVERY_MAX_TRIES tries the message fails instead.
    """
    claim = _delivery_claim(message_id, token)
    if claim is None:
        status = Message.objects.filter(pk=message_id).values_list("delivery_status", flat=True)
        return status.first() or ""
    until, tries = claim
    message = (
        Message.objects.select_related("conversation", "conversation__customer", "inbox")
        .filter(pk=message_id)
        .first()
    )
    if message is None:  # pragma: no cover - deleted between the claim and here
        return ""
    if tries > DELIVERY_MAX_TRIES:
        # Every earlier try was cut off before it could record anything (its worker killed
        # mid-send, again and again): stop rather than loop for ever.
        reason = _("the delivery was interrupted every time")
        return _delivery_failed_for_good(message_id, until, reason)
    pending: adapters.TransientDeliveryError | None = None
    external_id: str | None = None
    status = Message.Delivery.QUEUED
    error = ""
    adapter = adapters.adapter_for(message.inbox)
    held = _held.set((message_id, until))
    try:
        if adapter is None:
            raise adapters.NotDeliverable(
                _("No delivery for the %(channel)s channel.")
                % {"channel": message.inbox.get_kind_display()}
            )
        external_id = adapter.send(message)
    except adapters.NotDeliverable as refusal:
        status, error = Message.Delivery.FAILED, str(refusal)
    except adapters.TransientDeliveryError as problem:
        pending = problem
    except DeliveryClaimLost:
        log.warning("delivery of message %s overran its claim; another task has it", message_id)
        return _status(message_id)
    except Exception as problem:
        log.exception("delivery of message %s failed unexpectedly", message_id)
        status = Message.Delivery.FAILED
        error = _("Not delivered: %(reason)s") % {"reason": f"{type(problem).__name__}: {problem}"}
    else:
        status = Message.Delivery.SENT
    finally:
        until = (_held.get() or (message_id, until))[1]
        _held.reset(held)
    if pending is None:
        changed = _delivery_outcome(message_id, until, status, error[:500], external_id)
        return status if changed else _status(message_id)
    if tries >= DELIVERY_MAX_TRIES:
        return _delivery_failed_for_good(message_id, until, str(pending))
    # Telegram's own `retry_after` when it gave one, else our backoff.
    seconds = max(1.0, pending.seconds) if isinstance(pending, RetryLater) else _backoff(tries)
    due = timezone.now() + timedelta(seconds=seconds)
    error = _("Retrying: %(reason)s") % {"reason": pending}
    if not _delivery_postpone(message_id, until, due, error[:500]):
        return _status(message_id)
    raise DeliveryPostponed(str(pending), seconds=seconds, due=due) from pending


def _status(message_id: int) -> str:
    return Message.objects.values_list("delivery_status", flat=True).get(pk=message_id)


def _locked_reply(message_id: int) -> Message:
    return (
        Message.objects.select_for_update(of=("self",))
        .select_related("conversation")
        .get(pk=message_id)
    )


@transaction.atomic
def _delivery_outcome(
    message_id: int, until: datetime, status: str, error: str, external_id: str | None
) -> bool:
    """Record what the channel said, in one short transaction, and publish it. Only while
    our claim holds — unless the channel says it was sent: that is the truth whoever holds
    the claim (and the other task stops at its next part)."""
    message = _locked_reply(message_id)
    queued = message.delivery_status == Message.Delivery.QUEUED
    ours = queued and message.delivery_claimed_until == until
    if not (ours or (status == Message.Delivery.SENT and message.delivery_status != status)):
        return False
    channel_id = {"external_id": external_id} if external_id else {}
    model_update(
        message,
        delivery_status=status,
        delivery_error=error,
        delivery_claimed_until=None,
        **channel_id,
    )
    publish_message(message, type="message.updated")
    return True


@transaction.atomic
def _delivery_postpone(message_id: int, until: datetime, due: datetime, error: str) -> bool:
    """A transient failure: still queued, the reason shown, reserved for the retry until
    `due` (the sweep takes it back if that retry never comes)."""
    message = _locked_reply(message_id)
    if message.delivery_status != Message.Delivery.QUEUED:
        return False
    if message.delivery_claimed_until != until:
        return False
    model_update(message, delivery_error=error, delivery_claimed_until=due)
    publish_message(message, type="message.updated")
    return True


def _delivery_failed_for_good(message_id: int, until: datetime, reason: str) -> str:
    error = _("Gave up after several tries: %(reason)s") % {"reason": reason}
    changed = _delivery_outcome(message_id, until, Message.Delivery.FAILED, error[:500], None)
    return Message.Delivery.FAILED if changed else _status(message_id)


def message_delivery_due(*, limit: int = 500) -> list[int]:
    """The outbox sweep's look-up: queued replies that no task claimed within
    DELIVERY_STUCK_SECONDS (the task was lost: a worker killed, a broker restarted empty, an
    enqueue that failed after commit), or whose claim or retry reservation has run out.
    Oldest first, in a bounded batch (the partial index `msg_delivery_queued` serves it)."""
    now = timezone.now()
    unclaimed = now - timedelta(seconds=settings.DELIVERY_STUCK_SECONDS)
    due = Q(delivery_claimed_until__isnull=True, created_at__lt=unclaimed) | Q(
        delivery_claimed_until__lt=now
    )
    return list(
        Message.objects.filter(due, delivery_status=Message.Delivery.QUEUED)
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


@transaction.atomic
def message_delivery_give_up(*, message_id: int, reason: str) -> str:
    """The retries are spent: a reply still queued is marked failed, never left waiting
    silently."""
    message = (
        Message.objects.select_for_update(of=("self",))
        .select_related("conversation")
        .filter(pk=message_id)
        .first()
    )
    if message is None or message.delivery_status != Message.Delivery.QUEUED:
        return message.delivery_status if message else ""
    error = _("Gave up after several tries: %(reason)s") % {"reason": reason}
    model_update(
        message,
        delivery_status=Message.Delivery.FAILED,
        delivery_error=error[:500],
        delivery_claimed_until=None,
    )
    publish_message(message, type="message.updated")
    return message.delivery_status
