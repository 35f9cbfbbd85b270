"""The customer's satisfaction surveys, for the side panel's contact statistics
(`chats.contact_stats`)."""

from __future__ import annotations

from django.db.models import Avg, Count

from analytics.models import CsatResponse
from chats.contact_stats import ContactFigures


def customer_csat(customer_id: int) -> ContactFigures:
    """The average rating of the customer's answered surveys and how many there are. One
    query."""
    found = CsatResponse.objects.filter(
        conversation__customer_id=customer_id, rating__isnull=False
    ).aggregate(avg=Avg("rating"), n=Count("pk"))
    return ContactFigures(csat=found["avg"], csat_answers=found["n"])
