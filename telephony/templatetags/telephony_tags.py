"""`{% customer_calls customer %}`: the customer's calls inside their card (#6).

A template tag, so that the card (customers) shows calls without importing telephony.
"""

from __future__ import annotations

from typing import Any

from django import template

from accounts.access import profile_of
from telephony.selectors import customer_call_count, customer_calls

register = template.Library()


@register.inclusion_tag("telephony/_customer_calls.html", takes_context=True)
def customer_calls_for(context: dict[str, Any], customer: Any) -> dict[str, Any]:
    """Two queries: the latest calls with their operators, and the count."""
    if customer is None or not getattr(customer, "pk", None):
        return {"calls": [], "call_count": 0, "customer_id": None, "can_dial": False}
    request = context.get("request")
    profile = profile_of(getattr(request, "user", None))
    return {
        "calls": customer_calls(customer_id=customer.pk),
        "call_count": customer_call_count(customer_id=customer.pk),
        "customer_id": customer.pk,
        "can_dial": bool(profile and profile.phone_extension),
    }
