"""`{% customer_calls customer %}`: the customer's calls inside their card.

A template tag, so that the card (customers) shows calls without importing telephony.
"""

from __future__ import annotations

import json
from typing import Any

from django import template
from django.utils.text import capfirst

from accounts.access import profile_of
from chats.selectors import can_act
from telephony.models import Call
from telephony.selectors import customer_call_count, customer_calls, visible_calls

register = template.Library()


@register.inclusion_tag("telephony/_customer_calls.html", takes_context=True)
def customer_calls_for(context: dict[str, Any], customer: Any) -> dict[str, Any]:
    """Three queries: the latest calls with their operators, which of them the user may
    open (for the follow-up button), and the count."""
    if customer is None or not getattr(customer, "pk", None):
        return {
            "calls": [],
            "call_count": 0,
            "customer_id": None,
            "can_dial": False,
            "openable": set(),
        }
    request = context.get("request")
    user = getattr(request, "user", None)
    profile = profile_of(user)
    calls = customer_calls(customer_id=customer.pk)
    # A follow-up can be opened from the calls the user may open (the call views' gate); in
    # the screen-pop the call shown has its own button.
    shown = getattr(context.get("call"), "pk", None)
    openable = (
        set(
            visible_calls(user)
            .filter(pk__in=[c.pk for c in calls if c.pk != shown], customer_id=customer.pk)
            .values_list("pk", flat=True)
        )
        if calls and user is not None and can_act(user)  # the write gate: looking-only roles
        else set()
    )
    return {
        "calls": calls,
        "openable": openable,
        "call_count": customer_call_count(customer_id=customer.pk),
        "customer_id": customer.pk,
        "can_dial": bool(profile and profile.phone_extension) and can_act(user),
    }


@register.simple_tag
def call_state_labels() -> str:
    """Every call state's label in the page's language, as JSON, for the screen-pop to show
    the state a live `call.*` event names (the card is rendered once, while it rings)."""
    return json.dumps(
        {value: capfirst(str(label)) for value, label in Call.State.choices},
        ensure_ascii=False,
    )
