"""Click-to-call: the call row, the AMI Originate a task sends after commit, and how a
failed Originate (refused by the PBX, or the operator's phone not answering) fails the call."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import OperatorProfile
from customers.models import Identity
from smartdesk.core.oncommit import after_commit
from telephony import events
from telephony.models import Call, Pbx
from telephony.numbers import number_normalise
from telephony.services.common import (
    Outcome,
    event_store,
    event_time,
    publish_to,
)


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


def originate_response_apply(pbx_id: int, fields: dict[str, str], received_at: datetime) -> str:
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
    if not event_store(call, fields, received_at):
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
        publish_to(operator_id, events.call_failed(call, reason=reason))


@transaction.atomic
def call_originate_failed(*, call_id: int, reason: str = FailReason.PBX) -> None:
    """The Originate could not even be sent (the PBX is down, or refused it): the call is
    failed, and the operator told why (a `FailReason`)."""
    call = Call.objects.select_for_update().filter(pk=call_id).first()
    if call is None:
        return
    _originate_fail(call, reason=reason, at=timezone.now())
