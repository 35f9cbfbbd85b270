"""The demo data for the customer card: seeded with `seed_demo`, the same after a second run."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.test import override_settings

from customers.models import Customer, LoyaltyTransaction, Order, OrderItem, TierChange
from customers.selectors import customer_card

pytestmark = pytest.mark.django_db


def _counts() -> tuple[int, ...]:
    return tuple(
        model.objects.count()
        for model in (Customer, Order, OrderItem, LoyaltyTransaction, TierChange)
    )


@override_settings(DEBUG=True)
def test_the_demo_customers_have_cards_and_a_second_seed_adds_nothing(admin_user):
    call_command("seed_demo", stdout=io.StringIO())
    counts = _counts()
    call_command("seed_demo", stdout=io.StringIO())

    assert _counts() == counts
    svetlana = Customer.objects.get(external_id="demo-sv")
    # the demo conversation's customer was completed, not duplicated
    assert svetlana.conversations.exists()
    card = customer_card(svetlana, user=admin_user)
    assert card.allergies == [("sesame", "sesame")]
    assert card.order_count == 24 and card.orders[0].items
    assert card.loyalty.tier is not None and card.loyalty.balance > 0
    assert all("sesame" not in o.text.lower() for o in card.offers)
