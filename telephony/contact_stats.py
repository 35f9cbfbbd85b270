"""The customer's calls, for the side panel's contact statistics (`chats.contact_stats`)."""

from __future__ import annotations

from django.db.models import Count, Max

from chats.contact_stats import ContactFigures
from telephony.models import Call


def customer_calls(customer_id: int) -> ContactFigures:
    """How many calls the customer made or took, and when the last one started. One query.
    Counts only, so not limited to the calls the operator may open."""
    found = Call.objects.filter(customer_id=customer_id).aggregate(
        n=Count("pk"), last=Max("started_at")
    )
    return ContactFigures(calls=found["n"], last_call=found["last"])
