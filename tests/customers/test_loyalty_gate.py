"""Customer-level writes go through the gate's write form.

A manual adjustment or a goodwill decision is allowed only for a customer of a conversation the
user may act on, or with the capability to change any customer's loyalty. A customer whose
card is a 404 for the user is a 404 for these writes too, and nothing changes.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import Role
from customers import loyalty
from customers.models import GoodwillRequest, LoyaltyTransaction
from customers.selectors import loyalty_summary
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def loyalty_desk(support):
    """Teams scope, the loyalty capability, works on conversations: the Support team's."""
    role = factories.make_role(
        name="Loyalty desk", slug="loyalty-desk", scope=Role.Scope.TEAMS, can_adjust_loyalty=True
    )
    return factories.make_user(username="lena", role=role, teams=[support])


@pytest.fixture
def theirs(delivery_inbox, tiers):
    """A customer with points, known only through a Delivery conversation."""
    order = factories.make_order("D-1", total="2000")
    return factories.make_conversation(inbox=delivery_inbox, customer=order.customer)


@pytest.fixture
def ours(support_inbox, tiers):
    order = factories.make_order("S-1", total="2000")
    return factories.make_conversation(inbox=support_inbox, customer=order.customer)


def test_adjusting_a_customer_whose_card_is_a_404_is_a_404(api, loyalty_desk, theirs) -> None:
    client = api(loyalty_desk)
    customer_id = theirs.customer_id
    before = loyalty_summary(customer_id).balance
    assert before > 0
    assert client.get(reverse("api-customer-card", args=[customer_id])).status_code == 404

    response = client.post(
        reverse("api-loyalty-adjust", args=[customer_id]),
        {"points": 5000, "reason": "Because I can"},
        format="json",
    )

    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert loyalty_summary(customer_id).balance == before
    assert not LoyaltyTransaction.objects.filter(kind="adjustment").exists()


def test_a_customer_of_the_users_own_conversations_can_be_adjusted(api, loyalty_desk, ours) -> None:
    before = loyalty_summary(ours.customer_id).balance

    response = api(loyalty_desk).post(
        reverse("api-loyalty-adjust", args=[ours.customer_id]),
        {"points": 40, "reason": "Double charge"},
        format="json",
    )

    assert response.status_code == 200, response.json()
    assert loyalty_summary(ours.customer_id).balance == before + 40


def test_deciding_goodwill_for_a_customer_out_of_reach_is_a_404(
    api, loyalty_desk, outsider, theirs
) -> None:
    pending = loyalty.goodwill_grant(
        customer=theirs.customer, points=5000, reason="Cold soup", actor=outsider
    ).request
    assert pending is not None
    before = loyalty_summary(theirs.customer_id).balance

    response = api(loyalty_desk).post(
        reverse("api-goodwill-decision", args=[pending.pk]), {"approve": True}, format="json"
    )

    assert response.status_code == 404
    pending.refresh_from_db()
    assert pending.status == GoodwillRequest.Status.PENDING
    assert loyalty_summary(theirs.customer_id).balance == before


def test_seeing_every_card_is_not_changing_it(api, theirs) -> None:
    """Scope `all` and the loyalty capability, but no conversation work and no all-customers
    capability: the card is there (200), the adjustment is refused (403), nothing changes."""
    role = factories.make_role(
        name="Loyalty auditor",
        slug="loyalty-auditor",
        scope=Role.Scope.ALL,
        can_adjust_loyalty=True,
        can_handle_conversations=False,
    )
    auditor = factories.make_user(username="olga", role=role)
    client = api(auditor)
    before = loyalty_summary(theirs.customer_id).balance
    assert client.get(reverse("api-customer-card", args=[theirs.customer_id])).status_code == 200

    response = client.post(
        reverse("api-loyalty-adjust", args=[theirs.customer_id]),
        {"points": -10, "reason": "x"},
        format="json",
    )

    assert response.status_code == 403 and response.json()["detail"]
    assert loyalty_summary(theirs.customer_id).balance == before


def test_the_all_customers_capability_reaches_a_customer_without_conversations(api) -> None:
    role = factories.make_role(
        name="Loyalty office",
        slug="loyalty-office",
        scope=Role.Scope.ASSIGNED,
        can_adjust_loyalty=True,
        can_act_on_all_customers=True,
    )
    office = factories.make_user(username="irina", role=role)
    customer = factories.make_customer("Nobody", phone="+79161234567")

    response = api(office).post(
        reverse("api-loyalty-adjust", args=[customer.pk]),
        {"points": 300, "reason": "Migration from the old CRM"},
        format="json",
    )

    assert response.status_code == 200, response.json()
    assert loyalty_summary(customer.pk).balance == 300


def test_the_admin_site_decides_goodwill_only_with_the_all_customers_capability(
    client, outsider, theirs, admin_user
) -> None:
    pending = loyalty.goodwill_grant(
        customer=theirs.customer, points=5000, reason="Cold soup", actor=outsider
    ).request
    role = factories.make_role(
        name="Floor lead",
        slug="floor-lead",
        scope=Role.Scope.TEAMS,
        can_use_admin=True,
        can_adjust_loyalty=True,
    )
    lead = factories.make_user(username="gleb", role=role)
    url = reverse("admin:customers_goodwillrequest_changelist")
    action = {"action": "approve", "_selected_action": [pending.pk]}

    client.force_login(lead)
    client.post(url, action)
    pending.refresh_from_db()
    assert pending.status == GoodwillRequest.Status.PENDING

    client.force_login(admin_user)  # the built-in admin may change any customer's loyalty
    client.post(url, action)
    pending.refresh_from_db()
    assert pending.status == GoodwillRequest.Status.APPROVED
