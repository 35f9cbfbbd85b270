"""The effective status: a snooze whose time has passed reads as open at once; the active
and snoozed predicates the list views filter with."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Case, CharField, F, Q, QuerySet, Value, When
from django.utils import timezone

from chats.models import Conversation

Status = Conversation.Status


def with_effective_status(qs: QuerySet[Conversation], now: datetime | None = None) -> QuerySet:
    """Annotate `effective_status`: a snooze whose time has passed reads as open at once,
    before the sweep materialises it."""
    now = now or timezone.now()
    return qs.annotate(
        effective_status=Case(
            When(status=Status.SNOOZED, snoozed_until__lte=now, then=Value(Status.OPEN)),
            default=F("status"),
            output_field=CharField(),
        )
    )


def active_q(now: datetime) -> Q:
    """Open, or snoozed with its time passed: what the active lists show."""
    return Q(status=Status.OPEN) | Q(status=Status.SNOOZED, snoozed_until__lte=now)


def snoozed_q(now: datetime) -> Q:
    """Snoozed and not yet due (until a later time, or until the customer replies)."""
    return Q(status=Status.SNOOZED) & (Q(snoozed_until__isnull=True) | Q(snoozed_until__gt=now))


def is_due(conversation: Conversation, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    return (
        conversation.status == Status.SNOOZED
        and conversation.snoozed_until is not None
        and conversation.snoozed_until <= now
    )


def effective_status(conversation: Conversation, now: datetime | None = None) -> str:
    return Status.OPEN if is_due(conversation, now) else conversation.status
