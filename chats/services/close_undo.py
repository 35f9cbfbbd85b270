"""Undo for close, and the settling of a close once its undo window has passed.

A close (`conversations.conversation_close`) records what it changed in its `closed` event and
leaves `close_settled_at` empty. For `CLOSE_UNDO_SECONDS` it can be taken back
(`conversation_close_undo`). After that the close is *settled*: a conditional UPDATE claims it
(`close_settled_at` set, only while the very same close still stands and is past its window)
and only the caller whose claim took the row sends `conversation_closed` (CSAT survey, AI
summary and classification), after commit. So a redelivered task, a sweep racing the countdown
task, or an undo racing either, never sends it twice nor for a close that was taken back.

The claim lives in the database (STYLE: long delays are rows, never broker ETAs): the periodic
sweep `conversations_settle_closed` finds every close past its window (a lost task, a deleted
and restored conversation, the embedded product where the countdown is not honoured); the
countdown task only makes it happen sooner.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from chats.events import publish_conversation_changed
from chats.models import Conversation
from chats.services import distribution
from chats.services.common import (
    ActionRefused,
    EventType,
    Status,
    _locked,
    _record,
    _refuse_if_deleted,
)
from chats.services.distribution import FIELDS as DISTRIBUTION_FIELDS
from chats.signals import conversation_closed
from smartdesk.core.oncommit import after_commit


def close_undo_window() -> timedelta:
    return timedelta(seconds=max(0, int(getattr(settings, "CLOSE_UNDO_SECONDS", 10))))


def close_undoable_until(conversation: Conversation) -> datetime | None:
    """Until when the close of this conversation can still be taken back (None: it cannot)."""
    if (
        conversation.status != Status.CLOSED
        or conversation.closed_at is None
        or conversation.close_settled_at is not None
    ):
        return None
    until = conversation.closed_at + close_undo_window()
    return until if until > timezone.now() else None


def settle_close_later(conversation_id: int, closed_at: datetime) -> None:
    """After a close commits: settle it at once if there is no window, otherwise queue the
    countdown task. The task claims only a close past its window, so where Celery runs eagerly
    (`make run`, tests) it is a no-op now and the sweep settles the close later."""
    window = close_undo_window()
    if not window:
        conversation_close_settle(conversation_id=conversation_id, closed_at=closed_at)
        return
    from chats.tasks import conversation_close_settled  # the tasks module imports services

    conversation_close_settled.apply_async(
        (conversation_id, closed_at.isoformat()), countdown=int(window.total_seconds())
    )


def _announce(conversation_id: int) -> None:
    conversation_closed.send(Conversation, id=conversation_id)


def conversation_close_settle(
    *, conversation_id: int, closed_at: datetime, now: datetime | None = None
) -> bool:
    """Claim this close as settled if it still stands (same `closed_at`, not undone, reopened,
    closed again or deleted) and its window has passed; the one caller whose claim took the row
    sends `conversation_closed` after commit. True for that caller only."""
    now = now or timezone.now()
    with transaction.atomic():
        claimed = Conversation.objects.filter(
            pk=conversation_id,
            status=Status.CLOSED,
            closed_at=closed_at,
            closed_at__lte=now - close_undo_window(),
            deleted_at__isnull=True,
            close_settled_at__isnull=True,
        ).update(close_settled_at=now)
        if claimed:
            after_commit(_announce, conversation_id, name="conversation-closed")
    return claimed == 1


def conversations_settle_closed(*, now: datetime | None = None, batch_size: int = 500) -> int:
    """The sweep: settle every close whose window has passed and that nobody settled (however
    long ago), in bounded batches, oldest first. Idempotent; returns how many this call
    settled."""
    now = now or timezone.now()
    settled = 0
    while True:
        due = list(
            Conversation.objects.filter(
                status=Status.CLOSED,
                close_settled_at__isnull=True,
                closed_at__lte=now - close_undo_window(),
                deleted_at__isnull=True,
            )
            .order_by("closed_at", "pk")
            .values_list("pk", "closed_at")[:batch_size]
        )
        if not due:
            return settled
        # A row another caller claimed (or changed) meanwhile no longer matches the filter.
        settled += sum(
            conversation_close_settle(conversation_id=pk, closed_at=closed_at, now=now)
            for pk, closed_at in due
        )


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@transaction.atomic
def conversation_close_undo(
    *, conversation: Conversation, actor: Any, now: datetime | None = None
) -> Conversation:
    """Take a close back within the undo window: the status, the snooze and the wait it had
    before, with its operator (within capacity or not: it was theirs a moment ago; beyond it is
    recorded in the event). Idempotent: a conversation no longer closed is left as it is. Too
    late (the window has passed, or the close is settled): `ActionRefused`."""
    now = now or timezone.now()
    locked = _locked(conversation)
    _refuse_if_deleted(locked)
    if locked.status != Status.CLOSED:
        return locked
    last = locked.events.filter(type=EventType.CLOSED).order_by("-at", "-id").first()
    previous = (last.data or {}).get("before") if last is not None else None
    if (
        not previous
        or locked.closed_at is None
        or locked.close_settled_at is not None  # the survey may be out: too late
        or now - locked.closed_at > close_undo_window()
    ):
        raise ActionRefused(_("It is too late to undo the close; reopen the conversation."))
    before = distribution.snapshot(locked)
    locked.status = previous.get("status") or Status.OPEN
    locked.closed_at = None
    locked.waiting_since = _moment(previous.get("waiting_since"))
    locked.snoozed_until = _moment(previous.get("snoozed_until"))
    locked.snooze_until_reply = bool(previous.get("snooze_until_reply"))
    locked.snooze_reason = previous.get("snooze_reason") or ""
    over = distribution.settle(locked, before, force=True, mode="reopened")
    locked.save(
        update_fields=[
            "status",
            "closed_at",
            "waiting_since",
            "snoozed_until",
            "snooze_until_reply",
            "snooze_reason",
            *DISTRIBUTION_FIELDS,
            "updated_at",
        ]
    )
    extra = {"over_capacity": True} if over else {}
    _record(locked, EventType.REOPENED, actor, cause="undo", **extra)
    publish_conversation_changed(
        locked, change=EventType.REOPENED, previous_assignee_id=before.assignee_id
    )
    return locked
