"""Calls built from AMI events. `call_event_apply()` is the listener's one entry point.

It is idempotent: an event already stored for its call (same Uniqueid, same content) changes
nothing, and every transition only moves forward, because Asterisk orders events within one
channel only.
"""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from telephony.models import Call, CallOffer
from telephony.numbers import WITHHELD, number_normalise
from telephony.services.call_state import (
    CallContext,
    answer,
    finish,
    ring,
    stop_ringing,
)
from telephony.services.click_to_call import originate_response_apply
from telephony.services.common import (
    Outcome,
    customer_id_for_number,
    event_store,
    event_time,
    interface_of,
    operator_for,
)

# The events calls are built from; anything else on the stream is not stored.
HANDLED_EVENTS = frozenset(
    {
        "Newchannel",
        "Newstate",
        "QueueCallerJoin",
        "QueueCallerLeave",
        "AgentCalled",
        "AgentConnect",
        "AgentComplete",
        "AgentRingNoAnswer",
        "QueueCallerAbandon",
        "DialBegin",
        "DialEnd",
        "Hangup",
    }
)
# Raised once per click-to-call when the PBX knows whether the operator's phone answered.
# It has no Linkedid: it names our Originate by the ActionID we gave it (the call's linkedid).
ORIGINATE_RESPONSE = "OriginateResponse"
CHANNEL_STATE_UP = "6"


def _seconds(value: str | None) -> int | None:
    try:
        return max(0, int(float(value))) if value not in (None, "") else None
    except ValueError:
        return None


def _locked_call(pbx_id: int, linkedid: str, at: datetime) -> tuple[Call, bool]:
    call = Call.objects.select_for_update().filter(pbx_id=pbx_id, linkedid=linkedid).first()
    if call is not None:
        return call, False
    try:
        with transaction.atomic():
            call = Call.objects.create(
                pbx_id=pbx_id, linkedid=linkedid, uniqueid=linkedid, started_at=at
            )
        return call, True
    except IntegrityError:  # created meanwhile by another process
        return Call.objects.select_for_update().get(pbx_id=pbx_id, linkedid=linkedid), False


@transaction.atomic
def call_event_apply(
    *, pbx_id: int, fields: dict[str, str], received_at: datetime | None = None
) -> str:
    """Store one AMI event and move its call forward. Returns an `Outcome`.

    Emits `call.ringing` (the screen-pop) to a rung operator, `call.stopped` when their phone
    stops ringing unanswered, `call.answered` and `call.ended`, all after commit. An answered
    call makes its operator busy for chats (`TELEPHONY_CALL_WEIGHT`) until wrap-up ends.
    """
    name = fields.get("Event", "")
    received_at = received_at or timezone.now()
    if name == ORIGINATE_RESPONSE:
        return originate_response_apply(pbx_id, fields, received_at)
    linkedid = fields.get("Linkedid") or fields.get("Uniqueid") or ""
    if name not in HANDLED_EVENTS or not linkedid:
        return Outcome.IGNORED
    at = event_time(fields, received_at)
    call, _created = _locked_call(pbx_id, linkedid, at)
    if not event_store(call, fields, received_at):
        return Outcome.DUPLICATE
    ctx = CallContext(call=call, fields=fields, at=at, changed=set())
    if at < call.started_at:
        ctx.set("started_at", at)
    _HANDLERS[name](ctx)
    if ctx.changed:
        call.save(update_fields=[*sorted(ctx.changed), "updated_at"])
    return Outcome.APPLIED


def _on_newchannel(ctx: CallContext) -> None:
    if not ctx.primary:
        return
    f, call = ctx.fields, ctx.call
    own = operator_for(interface_of(f.get("Channel", "")))
    if own is not None and call.direction == Call.Direction.INBOUND and not call.originated_by_id:
        # An operator's phone placed the call: outbound, to the number it dialled.
        ctx.set("direction", Call.Direction.OUTBOUND)
        ctx.set_if_empty("operator_id", own)
        _set_customer_number(ctx, f.get("Exten", ""))
    elif call.direction == Call.Direction.INBOUND:
        _set_customer_number(ctx, f.get("CallerIDNum", ""))
        name = f.get("CallerIDName", "")
        if name.lower() not in WITHHELD:
            ctx.set_if_empty("caller_name", name[:150])
        did = f.get("Exten", "")
        ctx.set_if_empty("did", (number_normalise(did) or did)[:32])


def _set_customer_number(ctx: CallContext, raw: str) -> None:
    if ctx.call.caller or ctx.call.caller_raw:
        return
    e164 = number_normalise(raw)
    ctx.set("caller_raw", (raw or "")[:80])
    ctx.set("caller", e164)
    if ctx.call.customer_id is None:
        ctx.set("customer_id", customer_id_for_number(e164))


def _on_newstate(ctx: CallContext) -> None:
    f, call = ctx.fields, ctx.call
    if ctx.primary or f.get("ChannelState") != CHANNEL_STATE_UP or call.queue:
        return  # queue calls are answered by AgentConnect, which carries the hold time
    if call.answered_at is not None or call.is_over:
        return
    leg = operator_for(interface_of(f.get("Channel", "")))
    if call.direction == Call.Direction.INBOUND and leg is None:
        return
    answer(ctx, operator_id=leg or call.operator_id, hold=None)


def _on_queue_join(ctx: CallContext) -> None:
    ctx.set_if_empty("queue", ctx.fields.get("Queue", "")[:80])
    ctx.set_if_empty("queued_at", ctx.at)
    if ctx.call.state == Call.State.RINGING:
        ctx.set("state", Call.State.QUEUED)
    if not ctx.call.caller and not ctx.call.caller_raw:
        _set_customer_number(ctx, ctx.fields.get("CallerIDNum", ""))


def _on_queue_leave(ctx: CallContext) -> None:
    ctx.set_if_empty("queue", ctx.fields.get("Queue", "")[:80])


def _agent(ctx: CallContext) -> int | None:
    f = ctx.fields
    return operator_for(f.get("Interface", ""), interface_of(f.get("DestChannel", "")))


def _on_agent_called(ctx: CallContext) -> None:
    ctx.set_if_empty("queue", ctx.fields.get("Queue", "")[:80])
    ring(ctx, _agent(ctx))


def _on_agent_ring_no_answer(ctx: CallContext) -> None:
    # RingTime here is in milliseconds.
    ring_ms = _seconds(ctx.fields.get("RingTime"))
    stop_ringing(ctx, _agent(ctx), CallOffer.Outcome.NO_ANSWER, ring_ms)


def _on_agent_connect(ctx: CallContext) -> None:
    ctx.set_if_empty("queue", ctx.fields.get("Queue", "")[:80])
    answer(ctx, operator_id=_agent(ctx), hold=_seconds(ctx.fields.get("HoldTime")))


def _on_agent_complete(ctx: CallContext) -> None:
    f, call = ctx.fields, ctx.call
    if call.answered_at is None:  # AgentConnect lost: AgentComplete still has the figures
        answer(ctx, operator_id=_agent(ctx), hold=_seconds(f.get("HoldTime")))
    talk = _seconds(f.get("TalkTime"))
    if talk is not None:
        ctx.set("talk_seconds", talk)
    finish(ctx, Call.State.COMPLETED)


def _on_abandon(ctx: CallContext) -> None:
    # HoldTime is how long the caller waited (seconds), despite what some docs say.
    ctx.set_if_empty("queue", ctx.fields.get("Queue", "")[:80])
    hold = _seconds(ctx.fields.get("HoldTime"))
    if hold is not None:
        ctx.set("hold_seconds", hold)
    if ctx.call.answered_at is None:
        finish(ctx, Call.State.ABANDONED)


def _on_dial_begin(ctx: CallContext) -> None:
    f, call = ctx.fields, ctx.call
    callee = operator_for(interface_of(f.get("DestChannel", "")))
    if callee is not None and (
        call.direction == Call.Direction.INBOUND or callee != call.operator_id
    ):
        ring(ctx, callee)  # a direct dial to an operator (or app_queue ringing a member)
    elif call.direction == Call.Direction.OUTBOUND:
        _set_customer_number(ctx, f.get("DestCallerIDNum") or f.get("DestExten", ""))


def _on_dial_end(ctx: CallContext) -> None:
    f, call = ctx.fields, ctx.call
    callee = operator_for(interface_of(f.get("DestChannel", "")))
    status = f.get("DialStatus", "").upper()
    if status == "ANSWER":
        if call.queue or call.answered_at is not None:
            return  # the queue's AgentConnect says it, with the hold time
        if callee is not None and call.direction == Call.Direction.INBOUND:
            answer(ctx, operator_id=callee, hold=None)
        elif call.direction == Call.Direction.OUTBOUND:
            answer(ctx, operator_id=call.operator_id, hold=None)
        return
    if callee is not None and callee != call.operator_id:
        outcome = CallOffer.Outcome.BUSY if status == "BUSY" else CallOffer.Outcome.NO_ANSWER
        if status == "CANCEL":
            outcome = CallOffer.Outcome.CANCELLED
        stop_ringing(ctx, callee, outcome)


def _on_hangup(ctx: CallContext) -> None:
    call = ctx.call
    if not ctx.primary:
        leg = operator_for(interface_of(ctx.fields.get("Channel", "")))
        if leg is not None and leg != call.operator_id:
            stop_ringing(ctx, leg, CallOffer.Outcome.CANCELLED)
        return
    if call.state == Call.State.ANSWERED:
        finish(ctx, Call.State.COMPLETED)
    elif call.state == Call.State.QUEUED:
        if call.hold_seconds is None and call.queued_at is not None:
            ctx.set("hold_seconds", max(0, int((ctx.at - call.queued_at).total_seconds())))
        finish(ctx, Call.State.ABANDONED)
    elif call.state == Call.State.RINGING:
        finish(ctx, Call.State.MISSED)
    elif call.ended_at is None:
        ctx.set("ended_at", ctx.at)


_HANDLERS = {
    "Newchannel": _on_newchannel,
    "Newstate": _on_newstate,
    "QueueCallerJoin": _on_queue_join,
    "QueueCallerLeave": _on_queue_leave,
    "AgentCalled": _on_agent_called,
    "AgentConnect": _on_agent_connect,
    "AgentComplete": _on_agent_complete,
    "AgentRingNoAnswer": _on_agent_ring_no_answer,
    "QueueCallerAbandon": _on_abandon,
    "DialBegin": _on_dial_begin,
    "DialEnd": _on_dial_end,
    "Hangup": _on_hangup,
}
