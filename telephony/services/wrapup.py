"""Wrap-up after a call: the operator stays busy for chats until it ends; the sweep that
releases due wrap-ups and closes calls whose Hangup was lost."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.services import operator_busy_set
from telephony.models import Call
from telephony.services.call_state import CallContext, finish
from telephony.services.common import publish_to


@transaction.atomic
def call_wrapup_release(*, call_id: int, now: datetime | None = None) -> bool:
    """End the wrap-up of a call whose time is up: the operator is free for chats again unless
    another call still holds them. Safe to run twice: the release is claimed once."""
    now = now or timezone.now()
    claimed = Call.objects.filter(pk=call_id, wrapup_done=False, wrapup_until__lte=now).update(
        wrapup_done=True
    )
    if not claimed:
        return False
    operator_id = Call.objects.filter(pk=call_id).values_list("operator_id", flat=True).first()
    if operator_id is None:
        return True
    still_busy = (
        Call.objects.filter(operator_id=operator_id)
        .exclude(pk=call_id)
        .filter(
            Q(state=Call.State.ANSWERED, ended_at__isnull=True)
            | Q(wrapup_done=False, wrapup_until__gt=now)
        )
        .exists()
    )
    if not still_busy:
        operator_busy_set(user_id=operator_id, weight=0)
        publish_to(
            operator_id, {"type": "call.wrapup_over", "call_id": call_id, "state": "completed"}
        )
    return True


def calls_release_due_wrapups(*, now: datetime | None = None, batch_size: int = 500) -> int:
    """The sweep behind the countdown task: release every wrap-up whose time has passed."""
    now = now or timezone.now()
    due = list(
        Call.objects.filter(wrapup_done=False, wrapup_until__lte=now)
        .order_by("wrapup_until")
        .values_list("pk", flat=True)[:batch_size]
    )
    return sum(call_wrapup_release(call_id=pk, now=now) for pk in due)


def calls_close_stale(*, now: datetime | None = None, older_than: timedelta | None = None) -> int:
    """Calls still open hours after they started lost their Hangup (the listener was down):
    close them as the events say, so that they stop counting as live."""
    now = now or timezone.now()
    cutoff = now - (older_than or timedelta(hours=settings.TELEPHONY_STALE_CALL_HOURS))
    closed = 0
    for pk in Call.objects.filter(
        state__in=[Call.State.RINGING, Call.State.QUEUED, Call.State.ANSWERED],
        started_at__lt=cutoff,
    ).values_list("pk", flat=True)[:500]:
        with transaction.atomic():
            call = Call.objects.select_for_update().get(pk=pk)
            if call.is_over:
                continue
            ctx = CallContext(call=call, fields={}, at=call.updated_at or now, changed=set())
            final = {
                Call.State.ANSWERED: Call.State.COMPLETED,
                Call.State.QUEUED: Call.State.ABANDONED,
                Call.State.RINGING: Call.State.MISSED,
            }[call.state]
            finish(ctx, final)
            call.save(update_fields=[*sorted(ctx.changed), "updated_at"])
            closed += 1
    return closed
