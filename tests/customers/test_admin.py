"""The customers' admin pages: they open for admins, orders and the ledger are read-only, and
goodwill requests are decided through the service."""

from __future__ import annotations

import pytest
from django.urls import reverse

from customers import loyalty
from customers.models import GoodwillRequest, IntegrationClient, LoyaltyAccount, Order
from tests import factories

pytestmark = pytest.mark.django_db


def test_the_admin_pages_open(client, super_admin, tiers):
    order = factories.make_order("A-1", total="100")
    account = LoyaltyAccount.objects.get(customer=order.customer)
    client.force_login(super_admin)
    for name, args in [
        ("admin:customers_customer_change", [order.customer_id]),
        ("admin:customers_order_changelist", []),
        ("admin:customers_order_change", [order.pk]),
        ("admin:customers_loyaltytier_changelist", []),
        ("admin:customers_loyaltyaccount_change", [account.pk]),
        ("admin:customers_goodwillrequest_changelist", []),
        ("admin:customers_product_changelist", []),
        ("admin:customers_integrationclient_add", []),
    ]:
        assert client.get(reverse(name, args=args)).status_code == 200, name


def test_orders_cannot_be_edited_in_the_admin(client, admin_user, tiers):
    order = factories.make_order("A-1", total="100")
    client.force_login(admin_user)
    url = reverse("admin:customers_order_change", args=[order.pk])
    assert client.post(url, {"status": "cancelled"}).status_code == 403  # read-only admin
    assert Order.objects.get(pk=order.pk).status == "completed"


def test_an_admin_approves_goodwill_with_the_admin_action(client, admin_user, operator, tiers):
    customer = factories.make_order("A-1", total="100").customer
    asked = loyalty.goodwill_grant(customer=customer, points=900, reason="x", actor=operator)
    client.force_login(admin_user)

    client.post(
        reverse("admin:customers_goodwillrequest_changelist"),
        {"action": "approve", "_selected_action": [asked.request.pk]},
    )

    decided = GoodwillRequest.objects.get()
    assert (decided.status, decided.decided_by) == ("approved", admin_user)
    assert decided.transaction.points == 900


def test_a_new_back_office_client_gets_a_token_shown_once(client, super_admin):
    client.force_login(super_admin)
    response = client.post(
        reverse("admin:customers_integrationclient_add"),
        {"name": "Shop", "is_active": "on"},
        follow=True,
    )
    shown = [str(m) for m in response.context["messages"]]
    client_row = IntegrationClient.objects.get(name="Shop")
    assert any(client_row.key in m for m in shown)
    secret = next(m for m in shown if client_row.key in m).rsplit(".", 1)[1]
    assert secret not in client_row.secret_hash
