"""Every write of telephony: calls built from AMI events, wrap-up, notes, click-to-call,
routing rules.

`call_event_apply()` is the listener's one entry point. It is idempotent: an event already
stored for its call (same Uniqueid, same content) changes nothing, and every transition only
moves forward, because Asterisk orders events within one channel only.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.access import Capability, has_capability
from accounts.models import OperatorProfile, User
from accounts.services import operator_busy_set
from chats.models import Conversation, Inbox
from customers.models import Identity
from customers.services import customer_identify, identity_normalise
from smartdesk.oncommit import after_commit
from smartdesk.realtime import publish, user_group
from telephony import events
from telephony.models import Call, CallEvent, CallOffer, Pbx, RouteRule

logger = logging.getLogger(__name__)

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
_WITHHELD = {"", "<unknown>", "anonymous", "unknown", "restricted", "private"}


class Outcome:
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"


# --- helpers ----------------------------------------------------------------------------------


def interface_of(channel: str) -> str:
    """The device of a channel name: "PJSIP/101-0000002a" -> "PJSIP/101"."""
    channel = (channel or "").split(";", 1)[0]
    base, sep, _suffix = channel.rpartition("-")
    return base if sep and "/" in base else channel


def fingerprint(fields: dict[str, str]) -> str:
    canonical = "\n".join(f"{k}: {v}" for k, v in sorted(fields.items()))
    return hashlib.sha256(canonical.encode()).hexdigest()


def event_time(fields: dict[str, str], received_at: datetime) -> datetime:
    """The PBX's own clock when `timestampevents = yes` (manager.conf), else arrival."""
    raw = fields.get("Timestamp")
    if raw:
        try:
            return datetime.fromtimestamp(float(raw), tz=UTC)
        except (ValueError, OverflowError, OSError):
            pass
    return received_at


def _seconds(value: str | None) -> int | None:
    try:
        return max(0, int(float(value))) if value not in (None, "") else None
    except ValueError:
        return None


def number_normalise(raw: str) -> str:
    """E.164 for a valid number, "" for a withheld or invalid one."""
    raw = (raw or "").strip()
    if raw.lower() in _WITHHELD:
        return ""
    return identity_normalise(Identity.Kind.PHONE, raw)


def customer_id_for_number(e164: str) -> int | None:
    if not e164:
        return None
    return (
        Identity.objects.filter(kind=Identity.Kind.PHONE, value=e164)
        .values_list("customer_id", flat=True)
        .first()
    )


def operator_for(*interfaces: str) -> int | None:
    """The user whose profile's phone extension is one of `interfaces` (one query)."""
    names = {name for name in interfaces if name}
    if not names:
        return None
    return (
        OperatorProfile.objects.filter(phone_extension__in=names)
        .values_list("user_id", flat=True)
        .first()
    )


def _publish_to(user_id: int, event: dict[str, Any]) -> None:
    publish(event, groups=[user_group(user_id)], user_id=user_id)


# --- building calls ---------------------------------------------------------------------------


@dataclass
class _Ctx:
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


def _event_store(call: Call, fields: dict[str, str], received_at: datetime) -> bool:
    """Keep the raw event; False when this very event is already stored (a replay).

    The call row is locked by the caller: events of one call are applied one at a time, so
    this check cannot race with an insert of the same event."""
    uniqueid = fields.get("Uniqueid", "")
    digest = fingerprint(fields)
    if CallEvent.objects.filter(call=call, uniqueid=uniqueid, fingerprint=digest).exists():
        return False
    CallEvent.objects.create(
        call=call,
        name=fields.get("Event", ""),
        uniqueid=uniqueid,
        fingerprint=digest,
        fields=fields,
        received_at=received_at,
    )
    return True


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
        return _originate_response_apply(pbx_id, fields, received_at)
    linkedid = fields.get("Linkedid") or fields.get("Uniqueid") or ""
    if name not in HANDLED_EVENTS or not linkedid:
        return Outcome.IGNORED
    at = event_time(fields, received_at)
    call, _created = _locked_call(pbx_id, linkedid, at)
    if not _event_store(call, fields, received_at):
        return Outcome.DUPLICATE
    ctx = _Ctx(call=call, fields=fields, at=at, changed=set())
    if at < call.started_at:
        ctx.set("started_at", at)
    _HANDLERS[name](ctx)
    if ctx.changed:
        call.save(update_fields=[*sorted(ctx.changed), "updated_at"])
    return Outcome.APPLIED


def _on_newchannel(ctx: _Ctx) -> None:
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
        if name.lower() not in _WITHHELD:
            ctx.set_if_empty("caller_name", name[:150])
        did = f.get("Exten", "")
        ctx.set_if_empty("did", (number_normalise(did) or did)[:32])


def _set_customer_number(ctx: _Ctx, raw: str) -> None:
    if ctx.call.caller or ctx.call.caller_raw:
        return
    e164 = number_normalise(raw)
    ctx.set("caller_raw", (raw or "")[:80])
    ctx.set("caller", e164)
    if ctx.call.customer_id is None:
        ctx.set("customer_id", customer_id_for_number(e164))


def _on_newstate(ctx: _Ctx) -> None:
    f, call = ctx.fields, ctx.call
    if ctx.primary or f.get("ChannelState") != CHANNEL_STATE_UP or call.queue:
        return  # queue calls are answered by AgentConnect, which carries the hold time
    if call.answered_at is not None or call.is_over:
        return
    leg = operator_for(interface_of(f.get("Channel", "")))
    if call.direction == Call.Direction.INBOUND and leg is None:
        return
    _answer(ctx, operator_id=leg or call.operator_id, hold=None)


def _on_queue_join(ctx: _Ctx) -> None:
    ctx.set_if_empty("queue", ctx.fields.get("Queue", "")[:80])
    ctx.set_if_empty("queued_at", ctx.at)
    if ctx.call.state == Call.State.RINGING:
        ctx.set("state", Call.State.QUEUED)
    if not ctx.call.caller and not ctx.call.caller_raw:
        _set_customer_number(ctx, ctx.fields.get("CallerIDNum", ""))


def _on_queue_leave(ctx: _Ctx) -> None:
    ctx.set_if_empty("queue", ctx.fields.get("Queue", "")[:80])


def _ring(ctx: _Ctx, operator_id: int | None) -> None:
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
        _publish_to(operator_id, events.call_ringing(call, show_pii=show_pii))


def _stop_ringing(
    ctx: _Ctx, operator_id: int | None, outcome: str, ring_ms: int | None = None
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
        _publish_to(operator_id, events.call_changed(ctx.call, "call.stopped"))


def _stop_all_ringing(ctx: _Ctx, *, except_id: int | None = None) -> None:
    ringing = CallOffer.objects.filter(call=ctx.call, outcome=CallOffer.Outcome.RINGING)
    if except_id is not None:
        ringing = ringing.exclude(operator_id=except_id)
    for operator_id in list(ringing.values_list("operator_id", flat=True)):
        _stop_ringing(ctx, operator_id, CallOffer.Outcome.CANCELLED)


def _agent(ctx: _Ctx) -> int | None:
    f = ctx.fields
    return operator_for(f.get("Interface", ""), interface_of(f.get("DestChannel", "")))


def _on_agent_called(ctx: _Ctx) -> None:
    ctx.set_if_empty("queue", ctx.fields.get("Queue", "")[:80])
    _ring(ctx, _agent(ctx))


def _on_agent_ring_no_answer(ctx: _Ctx) -> None:
    # RingTime here is in milliseconds.
    ring_ms = _seconds(ctx.fields.get("RingTime"))
    _stop_ringing(ctx, _agent(ctx), CallOffer.Outcome.NO_ANSWER, ring_ms)


def _answer(ctx: _Ctx, *, operator_id: int | None, hold: int | None) -> None:
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
        _publish_to(operator_id, events.call_changed(call, "call.answered"))


def _on_agent_connect(ctx: _Ctx) -> None:
    ctx.set_if_empty("queue", ctx.fields.get("Queue", "")[:80])
    _answer(ctx, operator_id=_agent(ctx), hold=_seconds(ctx.fields.get("HoldTime")))


def _on_agent_complete(ctx: _Ctx) -> None:
    f, call = ctx.fields, ctx.call
    if call.answered_at is None:  # AgentConnect lost: AgentComplete still has the figures
        _answer(ctx, operator_id=_agent(ctx), hold=_seconds(f.get("HoldTime")))
    talk = _seconds(f.get("TalkTime"))
    if talk is not None:
        ctx.set("talk_seconds", talk)
    _finish(ctx, Call.State.COMPLETED)


def _on_abandon(ctx: _Ctx) -> None:
    # HoldTime is how long the caller waited (seconds), despite what some docs say.
    ctx.set_if_empty("queue", ctx.fields.get("Queue", "")[:80])
    hold = _seconds(ctx.fields.get("HoldTime"))
    if hold is not None:
        ctx.set("hold_seconds", hold)
    if ctx.call.answered_at is None:
        _finish(ctx, Call.State.ABANDONED)


def _on_dial_begin(ctx: _Ctx) -> None:
    f, call = ctx.fields, ctx.call
    callee = operator_for(interface_of(f.get("DestChannel", "")))
    if callee is not None and (
        call.direction == Call.Direction.INBOUND or callee != call.operator_id
    ):
        _ring(ctx, callee)  # a direct dial to an operator (or app_queue ringing a member)
    elif call.direction == Call.Direction.OUTBOUND:
        _set_customer_number(ctx, f.get("DestCallerIDNum") or f.get("DestExten", ""))


def _on_dial_end(ctx: _Ctx) -> None:
    f, call = ctx.fields, ctx.call
    callee = operator_for(interface_of(f.get("DestChannel", "")))
    status = f.get("DialStatus", "").upper()
    if status == "ANSWER":
        if call.queue or call.answered_at is not None:
            return  # the queue's AgentConnect says it, with the hold time
        if callee is not None and call.direction == Call.Direction.INBOUND:
            _answer(ctx, operator_id=callee, hold=None)
        elif call.direction == Call.Direction.OUTBOUND:
            _answer(ctx, operator_id=call.operator_id, hold=None)
        return
    if callee is not None and callee != call.operator_id:
        outcome = CallOffer.Outcome.BUSY if status == "BUSY" else CallOffer.Outcome.NO_ANSWER
        if status == "CANCEL":
            outcome = CallOffer.Outcome.CANCELLED
        _stop_ringing(ctx, callee, outcome)


def _on_hangup(ctx: _Ctx) -> None:
    call = ctx.call
    if not ctx.primary:
        leg = operator_for(interface_of(ctx.fields.get("Channel", "")))
        if leg is not None and leg != call.operator_id:
            _stop_ringing(ctx, leg, CallOffer.Outcome.CANCELLED)
        return
    if call.state == Call.State.ANSWERED:
        _finish(ctx, Call.State.COMPLETED)
    elif call.state == Call.State.QUEUED:
        if call.hold_seconds is None and call.queued_at is not None:
            ctx.set("hold_seconds", max(0, int((ctx.at - call.queued_at).total_seconds())))
        _finish(ctx, Call.State.ABANDONED)
    elif call.state == Call.State.RINGING:
        _finish(ctx, Call.State.MISSED)
    elif call.ended_at is None:
        ctx.set("ended_at", ctx.at)


def _finish(ctx: _Ctx, state: str) -> None:
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
    _publish_to(operator_id, events.call_changed(call, "call.ended"))
    call_id = call.pk

    def later() -> None:
        from telephony.tasks import call_wrapup_release as task

        task.apply_async(args=[call_id], countdown=wrapup)

    after_commit(later, name="call-wrapup-release")


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


# --- wrap-up ----------------------------------------------------------------------------------


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
        _publish_to(
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
            ctx = _Ctx(call=call, fields={}, at=call.updated_at or now, changed=set())
            final = {
                Call.State.ANSWERED: Call.State.COMPLETED,
                Call.State.QUEUED: Call.State.ABANDONED,
                Call.State.RINGING: Call.State.MISSED,
            }[call.state]
            _finish(ctx, final)
            call.save(update_fields=[*sorted(ctx.changed), "updated_at"])
            closed += 1
    return closed


# --- operator actions -------------------------------------------------------------------------


@transaction.atomic
def call_note_save(*, call: Call, actor: Any, note: str) -> Call:
    """The operator's note on a call (shown in the customer's history)."""
    note = (note or "").strip()
    if len(note) > 5000:
        raise ValidationError(_("The note is too long (at most 5000 characters)."))
    Call.objects.filter(pk=call.pk).update(note=note, note_by=actor, updated_at=timezone.now())
    call.note, call.note_by = note, actor
    return call


@transaction.atomic
def call_customer_create(
    *, call: Call, actor: Any, first_name: str = "", last_name: str = ""
) -> Call:
    """One click on an unknown caller: the customer behind the call's number (created with
    it, or found if someone created it meanwhile), linked to every call from that number."""
    if call.customer_id is not None:
        return call
    if not call.caller:
        raise ValidationError(_("The caller's number is withheld or not a valid phone number."))
    customer = customer_identify(
        kind=Identity.Kind.PHONE,
        value=call.caller,
        first_name=first_name.strip()[:150],
        last_name=last_name.strip()[:150],
    )
    Call.objects.filter(caller=call.caller, customer__isnull=True).update(customer=customer)
    call.customer = customer
    return call


def followup_inbox_for(customer_id: int) -> Inbox:
    """The inbox a follow-up conversation opened from a call goes to: the inbox whose key is
    `TELEPHONY_FOLLOWUP_INBOX` when set; else the inbox of the customer's most recent
    conversation (the channel they last wrote from); else a clear refusal."""
    key = settings.TELEPHONY_FOLLOWUP_INBOX
    if key:
        inbox = Inbox.objects.filter(key=key, is_active=True).first()
        if inbox is None:
            raise ValidationError(
                _("The follow-up inbox (TELEPHONY_FOLLOWUP_INBOX) does not exist or is inactive.")
            )
        return inbox
    latest = (
        Conversation.objects.filter(customer_id=customer_id, inbox__is_active=True)
        .select_related("inbox")
        .order_by("-created_at", "-pk")
        .first()
    )
    if latest is None:
        raise ValidationError(
            _(
                "This customer has no conversation yet, so there is no channel to write to; "
                "ask an admin to set the follow-up inbox (TELEPHONY_FOLLOWUP_INBOX)."
            )
        )
    return latest.inbox


def _followup_note(call: Call) -> str:
    number = call.caller or call.caller_raw or _("number withheld")
    when = timezone.localtime(call.started_at).strftime("%Y-%m-%d %H:%M")
    lines = [
        _("Follow-up of call #%(id)s (%(direction)s, %(number)s, %(when)s).")
        % {"id": call.pk, "direction": call.get_direction_display(), "number": number, "when": when}
    ]
    if call.note:
        lines.append(_("Note on the call: %(note)s") % {"note": call.note})
    return "\n".join(lines)


@transaction.atomic
def call_followup_open(*, call: Call, actor: Any) -> tuple[Conversation, bool]:
    """ "Open a follow-up conversation" on a call: (the conversation, created?).

    Only for a user who may see the call; the conversation is opened for the call's customer
    (`chats.services.outreach.conversation_open_by_operator`: assigned to the actor within
    their capacity, a `created` event with the call's id, an internal note linking the call)
    and linked to the call in the same transaction. The call row is locked, so a second
    click, or two at once, opens the same conversation instead of creating another.
    """
    from chats.selectors import can_act, visible_conversations
    from chats.services.outreach import conversation_open_by_operator
    from telephony.selectors import visible_calls

    if not can_act(actor):  # the gate's write form: a role that only looks opens nothing
        raise PermissionDenied(_("Your role may look at this call but not act on it."))
    locked = (
        visible_calls(actor)
        .select_for_update(of=("self",))
        .select_related("customer")
        .filter(pk=call.pk)
        .first()
    )
    if locked is None:
        raise PermissionDenied(_("No such call."))
    if locked.follow_up_conversation_id is not None:
        existing = visible_conversations(actor).filter(pk=locked.follow_up_conversation_id).first()
        if existing is None:
            raise PermissionDenied(
                _("A follow-up conversation was already opened from this call by a colleague.")
            )
        return existing, False
    if locked.customer is None:
        raise ValidationError(_("Create the customer first: this caller is unknown."))
    conversation = conversation_open_by_operator(
        customer=locked.customer,
        inbox=followup_inbox_for(locked.customer_id),
        actor=actor,
        note=_followup_note(locked),
        source={"source": "call", "call_id": locked.pk},
    )
    Call.objects.filter(pk=locked.pk).update(
        follow_up_conversation=conversation, updated_at=timezone.now()
    )
    call.follow_up_conversation = conversation
    return conversation, True


@dataclass(frozen=True)
class OriginateRequest:
    call_id: int
    pbx_id: int
    channel: str
    exten: str
    channel_id: str


@transaction.atomic
def call_originate(*, actor: Any, customer_id: int) -> Call:
    """Click-to-call: ring the operator's own phone, then dial the customer's phone.

    The call row is created now with the channel id we give Asterisk (`ChannelId`), so the
    events that follow land on it; the AMI `Originate` is sent by a task after commit, never
    inside the request. Refused (ValidationError) without an extension, a PBX or a phone.
    """
    profile = OperatorProfile.objects.filter(user_id=actor.pk).first()
    if profile is None or not profile.phone_extension:
        raise ValidationError(_("You have no phone extension: ask an admin to set one."))
    number = (
        Identity.objects.filter(
            customer_id=customer_id, kind=Identity.Kind.PHONE, unreachable_at__isnull=True
        )
        .order_by("-verified", "-created_at")
        .values_list("value", flat=True)
        .first()
    )
    e164 = number_normalise(number or "")
    if not e164:
        raise ValidationError(_("The customer has no phone number to call."))
    pbx = Pbx.objects.filter(is_active=True).order_by("pk").first()
    if pbx is None:
        raise ValidationError(_("No telephone exchange is configured."))
    channel_id = f"sd-{uuid.uuid4().hex}"
    call = Call.objects.create(
        pbx=pbx,
        linkedid=channel_id,
        uniqueid=channel_id,
        direction=Call.Direction.OUTBOUND,
        caller=e164,
        caller_raw=e164,
        customer_id=customer_id,
        operator_id=actor.pk,
        originated_by_id=actor.pk,
        started_at=timezone.now(),
    )
    request = OriginateRequest(
        call_id=call.pk,
        pbx_id=pbx.pk,
        channel=profile.phone_extension,
        exten=f"{pbx.dial_prefix}{e164.lstrip('+')}",
        channel_id=channel_id,
    )

    def send() -> None:
        from telephony.tasks import call_originate_send

        call_originate_send.delay(request.__dict__)

    after_commit(send, name="call-originate")
    return call


def originate_fields(request: OriginateRequest, *, context: str, user_id: int) -> dict[str, str]:
    """The AMI Originate of a click-to-call. Its ActionID is the call's linkedid: Asterisk
    repeats it in the `OriginateResponse` event every listener receives, which is how the
    listener finds the call when the operator's phone does not answer."""
    return {
        "ActionID": request.channel_id,
        "Channel": request.channel,
        "Context": context,
        "Exten": request.exten,
        "Priority": "1",
        "CallerID": f"<{request.exten}>",
        "Timeout": "30000",
        "ChannelId": request.channel_id,
        "Variable": f"SMARTDESK_USER={user_id}",
    }


class FailReason:
    """Why a click-to-call failed, as the operator's page words it (`call.failed`'s `reason`)."""

    BUSY = "busy"  # the operator's phone is busy
    NO_ANSWER = "no_answer"  # it rang and nobody picked it up
    REJECTED = "rejected"  # it was hung up while ringing
    UNREACHABLE = "unreachable"  # not registered, or the network is congested
    PBX = "pbx"  # the PBX could not be reached, or refused the Originate itself
    FAILED = "failed"  # anything else


# OriginateResponse's `Reason` is the last control frame Asterisk read on the operator's
# channel (AST_CONTROL_* in include/asterisk/frame.h), 0 when the channel was never created.
_ORIGINATE_REASONS = {
    "0": FailReason.UNREACHABLE,
    "1": FailReason.REJECTED,
    "3": FailReason.NO_ANSWER,
    "5": FailReason.BUSY,
    "8": FailReason.UNREACHABLE,
}


def _originate_response_apply(pbx_id: int, fields: dict[str, str], received_at: datetime) -> str:
    """An `OriginateResponse`: on `Failure`, the click-to-call it names is failed and its
    operator told. Only a call we originated on this PBX matches (by ActionID), so another
    AMI client's Originate, or a forged ActionID, cannot touch an ordinary call."""
    action_id = fields.get("ActionID", "")
    if not action_id:
        return Outcome.IGNORED
    call = (
        Call.objects.select_for_update()
        .filter(pbx_id=pbx_id, linkedid=action_id, originated_by__isnull=False)
        .first()
    )
    if call is None:
        return Outcome.IGNORED
    if not _event_store(call, fields, received_at):
        return Outcome.DUPLICATE
    if fields.get("Response", "").lower() == "failure":
        reason = _ORIGINATE_REASONS.get(fields.get("Reason", "").strip(), FailReason.FAILED)
        _originate_fail(call, reason=reason, at=event_time(fields, received_at))
    return Outcome.APPLIED


def _originate_fail(call: Call, *, reason: str, at: datetime) -> None:
    """Fail a click-to-call that was never answered. A `Hangup` of the operator's unanswered
    leg usually comes first and leaves it `missed`; the response then says why."""
    if call.answered_at is not None or call.state not in (Call.State.RINGING, Call.State.MISSED):
        return
    Call.objects.filter(pk=call.pk).update(
        state=Call.State.FAILED, ended_at=call.ended_at or at, updated_at=timezone.now()
    )
    call.state = Call.State.FAILED
    operator_id = call.originated_by_id or call.operator_id
    if operator_id:
        _publish_to(operator_id, events.call_failed(call, reason=reason))


@transaction.atomic
def call_originate_failed(*, call_id: int, reason: str = FailReason.PBX) -> None:
    """The Originate could not even be sent (the PBX is down, or refused it): the call is
    failed, and the operator told why (a `FailReason`)."""
    call = Call.objects.select_for_update().filter(pk=call_id).first()
    if call is None:
        return
    _originate_fail(call, reason=reason, at=timezone.now())


# --- routing rules ----------------------------------------------------------------------------

ROUTE_RULES_VERSION_KEY = "telephony:route-rules-version"


def route_rules_changed() -> None:
    """Cached routes are keyed by the rules' version: bumping it drops them all at once."""
    try:
        cache.incr(ROUTE_RULES_VERSION_KEY)
    except ValueError:
        cache.set(ROUTE_RULES_VERSION_KEY, 1, None)


@transaction.atomic
def route_rule_save(*, rule: RouteRule, actor: Any) -> RouteRule:
    if rule.kind == RouteRule.Kind.LOYALTY_TIER and rule.tier_id is None:
        raise ValidationError(_("A loyalty-tier rule needs a tier."))
    needs_value = (RouteRule.Kind.OPEN_TOPIC, RouteRule.Kind.LANGUAGE, RouteRule.Kind.DID)
    if rule.kind in needs_value and not rule.value.strip():
        raise ValidationError(_("This rule needs a value."))
    rule.value = rule.value.strip()
    rule.save()
    after_commit(route_rules_changed, name="route-rules-changed")
    return rule


@transaction.atomic
def route_rule_delete(*, rule: RouteRule, actor: Any) -> None:
    rule.delete()
    after_commit(route_rules_changed, name="route-rules-changed")


# --- PBXs -------------------------------------------------------------------------------------


@transaction.atomic
def pbx_save(*, pbx: Pbx, actor: Any, new_secret: str = "") -> Pbx:
    """Create or change a PBX; an empty `new_secret` keeps the stored one. The listener picks
    the change up on its next connection."""
    if new_secret:
        pbx.secret = new_secret
    if not pbx.secret:
        raise ValidationError(_("A new PBX needs its AMI secret."))
    pbx.save()
    return pbx
