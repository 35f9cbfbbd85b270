"""How a call moves while its events arrive: the context an event is applied in, ringing an
operator (the screen-pop), answering, and finishing (final state, wrap-up). Used by the AMI
event handlers and by the sweep that closes calls whose Hangup was lost."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings

from accounts.access import Capability, has_capability
from accounts.models import User
from accounts.services import operator_busy_set
from smartdesk.core.oncommit import after_commit
from telephony import events
from telephony.models import Call, CallOffer
from telephony.services.common import publish_to


@dataclass
class CallContext:
    call: Call
    fields: dict[str, str]
    at: datetime
    changed: set[str]

    def set(self, name: str, value: Any) -> None:
        if getattr(self.call, name) != value:
            setattr(self.call, name, value)
            self.changed.add(name)

    def set_if_empty(self, name: str, value: Any) -> None:
        if value not in (None, "") and getattr(self.call, name) in (None, ""):
            self.set(name, value)

    @property
    def primary(self) -> bool:
        """The event is about the call's first channel (the caller's, or the originated one)."""
        return self.fields.get("Uniqueid", "") == self.call.linkedid


def ring(ctx: CallContext, operator_id: int | None) -> None:
    """Offer the call to an operator: once per operator and call, whichever event says it
    first (`AgentCalled`, or the `DialBegin` app_queue also raises), then the screen-pop."""
    call = ctx.call
    if operator_id is None or call.is_over or call.answered_at is not None:
        return
    if ctx.changed:  # the screen-pop reads the row as it is now
        call.save(update_fields=[*sorted(ctx.changed), "updated_at"])
        ctx.changed.clear()
    _offer, created = CallOffer.objects.get_or_create(
        call=call, operator_id=operator_id, defaults={"offered_at": ctx.at}
    )
    if created:
        operator = User.objects.filter(pk=operator_id).first()
        show_pii = has_capability(operator, Capability.VIEW_CUSTOMER_PII)
        publish_to(operator_id, events.call_ringing(call, show_pii=show_pii))


def stop_ringing(
    ctx: CallContext, operator_id: int | None, outcome: str, ring_ms: int | None = None
) -> None:
    if operator_id is None:
        return
    updates: dict[str, Any] = {"outcome": outcome}
    if ring_ms is not None:
        updates["ring_ms"] = ring_ms
    stopped = CallOffer.objects.filter(
        call=ctx.call, operator_id=operator_id, outcome=CallOffer.Outcome.RINGING
    ).update(**updates)
    if stopped:
        publish_to(operator_id, events.call_changed(ctx.call, "call.stopped"))


def _stop_all_ringing(ctx: CallContext, *, except_id: int | None = None) -> None:
    ringing = CallOffer.objects.filter(call=ctx.call, outcome=CallOffer.Outcome.RINGING)
    if except_id is not None:
        ringing = ringing.exclude(operator_id=except_id)
    for operator_id in list(ringing.values_list("operator_id", flat=True)):
        stop_ringing(ctx, operator_id, CallOffer.Outcome.CANCELLED)


def answer(ctx: CallContext, *, operator_id: int | None, hold: int | None) -> None:
    call = ctx.call
    ctx.set_if_empty("answered_at", ctx.at)
    if hold is None and call.answered_at is not None:
        hold = max(0, int((call.answered_at - call.started_at).total_seconds()))
    ctx.set("hold_seconds", hold)
    if operator_id is not None:
        ctx.set("operator_id", operator_id)
    if not call.is_over:
        ctx.set("state", Call.State.ANSWERED)
    if operator_id is None:
        return
    CallOffer.objects.filter(call=call, operator_id=operator_id).update(
        outcome=CallOffer.Outcome.ANSWERED
    )
    _stop_all_ringing(ctx, except_id=operator_id)
    if not call.is_over:
        operator_busy_set(user_id=operator_id, weight=settings.TELEPHONY_CALL_WEIGHT)
        publish_to(operator_id, events.call_changed(call, "call.answered"))


def finish(ctx: CallContext, state: str) -> None:
    """The call is over: final state, end time, talk time, stop every ring, start wrap-up."""
    call = ctx.call
    if call.is_over:
        ctx.set_if_empty("ended_at", ctx.at)
        return
    ctx.set("state", state)
    ctx.set_if_empty("ended_at", ctx.at)
    if state == Call.State.COMPLETED and call.talk_seconds is None and call.answered_at:
        ctx.set("talk_seconds", max(0, int((call.ended_at - call.answered_at).total_seconds())))
    _stop_all_ringing(ctx, except_id=call.operator_id if call.answered_at else None)
    if state != Call.State.COMPLETED or call.operator_id is None:
        return
    wrapup = settings.TELEPHONY_WRAPUP_SECONDS
    ctx.set("wrapup_seconds", wrapup)
    ctx.set("wrapup_until", call.ended_at + timedelta(seconds=wrapup))
    operator_id = call.operator_id
    publish_to(operator_id, events.call_changed(call, "call.ended"))
    call_id = call.pk

    def later() -> None:
        from telephony.tasks import call_wrapup_release as task

        task.apply_async(args=[call_id], countdown=wrapup)

    after_commit(later, name="call-wrapup-release")
