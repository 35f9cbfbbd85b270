"""Realtime events of telephony, sent to one operator's `user.<id>` group.

`call.ringing` is the screen-pop: it is sent when the PBX rings the operator (`AgentCalled`,
or `DialBegin` of a direct dial to their extension), before anyone answers.
"""

from __future__ import annotations

from typing import TypedDict

from django.urls import reverse

from customers.selectors import mask_value
from telephony.models import Call


class CallRinging(TypedDict):
    type: str  # "call.ringing"
    call_id: int
    caller: str  # E.164, or what the PBX said; "" when the number is withheld
    caller_name: str
    customer_id: int | None
    customer_name: str
    queue: str
    direction: str
    card_url: str
    started_at: str


class CallChanged(TypedDict):
    type: str  # "call.answered" | "call.stopped" | "call.ended" | "call.wrapup_over"
    call_id: int
    state: str


def call_ringing(call: Call, *, show_pii: bool) -> CallRinging:
    """The screen-pop for one operator: the caller's number in full only for a role that may
    see customers' personal data (masked as on the customer card otherwise)."""
    customer = call.customer
    number = call.caller or call.caller_raw
    return {
        "type": "call.ringing",
        "call_id": call.pk,
        "caller": number if show_pii or not number else mask_value(number),
        "caller_name": call.caller_name,
        "customer_id": customer.pk if customer else None,
        "customer_name": customer.name if customer else "",
        "queue": call.queue,
        "direction": call.direction,
        "card_url": reverse("telephony:call-card", args=[call.pk]),
        "started_at": call.started_at.isoformat(),
    }


class CallFailed(TypedDict):
    type: str  # "call.failed"
    call_id: int
    state: str  # "failed"
    reason: str  # a `services.FailReason`: the page words it in the operator's language


def call_failed(call: Call, *, reason: str) -> CallFailed:
    """A click-to-call the PBX could not place, for the operator who asked for it."""
    return {"type": "call.failed", "call_id": call.pk, "state": call.state, "reason": reason}


def call_changed(call: Call, type: str) -> CallChanged:
    return {"type": type, "call_id": call.pk, "state": call.state}
