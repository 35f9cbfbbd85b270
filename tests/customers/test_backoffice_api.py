"""The back-office API: token auth, idempotent upserts, bulk orders with per-row errors, the
signed order-status webhook, the checkout's loyalty calls, and the OpenAPI schema."""

from __future__ import annotations

import json
import time

import pytest
import yaml
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from drf_spectacular.drainage import GENERATOR_STATS
from rest_framework.test import APIClient

from customers.auth import sign
from customers.models import (
    Customer,
    CustomerTag,
    Identity,
    LoyaltyTransaction,
    Order,
    OrderItem,
    Product,
)
from customers.selectors import loyalty_summary
from tests import factories

pytestmark = pytest.mark.django_db

BULK = "/api/v1/backoffice/orders/bulk/"


def order_url(ext: str) -> str:
    return f"/api/v1/backoffice/orders/{ext}/"


def body_of(row: dict) -> dict:
    return {k: v for k, v in row.items() if k != "external_id"}


# --- authentication ---------------------------------------------------------------------------


def test_the_back_office_api_needs_a_client_token(backoffice, operator, api):
    row = body_of(factories.order_row("A-1"))
    assert APIClient().put(order_url("A-1"), row, format="json").status_code == 401
    wrong = APIClient()
    key = backoffice.token.split(".")[0]
    wrong.credentials(HTTP_AUTHORIZATION=f"Bearer {key}.not-the-secret")
    assert wrong.put(order_url("A-1"), row, format="json").status_code == 401
    # a person signed in is not a back office
    assert api(operator).put(order_url("A-1"), row, format="json").status_code in (401, 403)
    backoffice.client.is_active = False
    backoffice.client.save()
    revoked = APIClient()
    revoked.credentials(HTTP_AUTHORIZATION=f"Bearer {backoffice.token}")
    assert revoked.put(order_url("A-1"), row, format="json").status_code == 401
    assert not Order.objects.exists()


# --- customers --------------------------------------------------------------------------------


def test_a_customer_upsert_is_idempotent_and_lists_replace(crm):
    url = "/api/v1/backoffice/customers/crm-7/"
    data = {
        "first_name": "Svetlana",
        "last_name": "Petrova",
        "phones": ["+7 (912) 000-11-22"],
        "allergies": ["sesame", "nuts"],
        "favourites": ["Salmon roll"],
        "promotions": [{"code": "SPRING", "name": "Spring rolls week"}],
    }
    first = crm.put(url, data, format="json")
    second = crm.put(url, data, format="json")
    assert (first.status_code, second.status_code) == (200, 200), first.json()
    assert (first.json()["created"], second.json()["created"]) == (True, False)

    customer = Customer.objects.get(external_id="crm-7")
    assert Customer.objects.count() == 1
    assert sorted(customer.tags.filter(kind="allergen").values_list("value", flat=True)) == [
        "nuts",
        "sesame",
    ]
    crm.put(url, {"allergies": ["sesame"]}, format="json")
    assert list(customer.tags.filter(kind="allergen").values_list("value", flat=True)) == ["sesame"]
    # lists left out are kept
    assert customer.tags.filter(kind=CustomerTag.Kind.FAVOURITE).count() == 1
    assert customer.promotions.count() == 1


def test_an_unknown_allergen_is_refused(crm):
    response = crm.put(
        "/api/v1/backoffice/customers/crm-7/", {"allergies": ["kryptonite"]}, format="json"
    )
    assert response.status_code == 400
    assert "allergies" in response.json()
    assert not Customer.objects.exists()


def test_a_customer_who_wrote_first_is_adopted_not_duplicated(crm):
    # Svetlana wrote in the widget with her phone before the CRM sent her
    channel = factories.make_customer("Sveta", phone="+79120001122")

    response = crm.put(
        "/api/v1/backoffice/customers/crm-7/",
        {"first_name": "Svetlana", "phones": ["+79120001122"]},
        format="json",
    )

    assert response.json()["id"] == channel.pk
    channel.refresh_from_db()
    assert (channel.external_id, channel.first_name) == ("crm-7", "Svetlana")
    assert Customer.objects.count() == 1


def test_a_phone_of_another_customer_is_not_moved(crm):
    crm.put("/api/v1/backoffice/customers/crm-1/", {"phones": ["+79120001122"]}, format="json")
    response = crm.put(
        "/api/v1/backoffice/customers/crm-2/", {"phones": ["+79120001122"]}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["warnings"]
    assert Identity.objects.get(kind="phone").customer.external_id == "crm-1"


# --- orders -----------------------------------------------------------------------------------


def test_the_same_order_put_twice_is_stored_and_accrued_once(crm, tiers):
    crm.put(order_url("A-0"), body_of(factories.order_row("A-0", total="100")), format="json")
    row = body_of(factories.order_row("A-1", total="300.00"))
    first = crm.put(order_url("A-1"), row, format="json")
    second = crm.put(order_url("A-1"), row, format="json")

    assert (first.status_code, second.status_code) == (200, 200), first.json()
    assert (first.json()["created"], second.json()["created"]) == (True, False)
    assert Order.objects.filter(external_id="A-1").count() == 1
    assert OrderItem.objects.filter(order__external_id="A-1").count() == 1
    assert LoyaltyTransaction.objects.filter(order__external_id="A-1").count() == 1
    assert loyalty_summary(Customer.objects.get(external_id="crm-1").pk).balance == 3 + 9


def test_bulk_stores_the_good_rows_and_reports_each_bad_one(crm, tiers):
    good = [factories.order_row(f"B-{i}", total="10.00") for i in range(3)]
    bad_total = factories.order_row("B-bad-total", total="-5")
    bad_currency = factories.order_row("B-bad-currency", currency="euro")
    no_customer = {k: v for k, v in factories.order_row("B-no-customer").items() if k != "customer"}
    bad_item = factories.order_row(
        "B-bad-item", items=[{"sku": "X", "name": "X", "price": "1", "quantity": 0}]
    )
    rows = [good[0], bad_total, good[1], bad_currency, "not an object", no_customer, bad_item]
    rows.append(good[2])

    response = crm.post(BULK, {"orders": rows}, format="json")

    assert response.status_code == 200, response.json()
    result = response.json()
    assert (result["created"], result["updated"], result["rejected"]) == (3, 0, 5)
    errors = {e["index"]: e for e in result["errors"]}
    assert set(errors) == {1, 3, 4, 5, 6}
    assert "total" in errors[1]["errors"] and errors[1]["external_id"] == "B-bad-total"
    assert "currency" in errors[3]["errors"]
    assert errors[4]["external_id"] is None
    assert "customer" in errors[5]["errors"]
    assert "items" in errors[6]["errors"]
    assert sorted(Order.objects.values_list("external_id", flat=True)) == ["B-0", "B-1", "B-2"]


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        json.dumps({"orders": "nope"}),
        json.dumps({"rows": []}),
        json.dumps({"orders": []}),
        json.dumps([{"external_id": "A"}]),
    ],
    ids=["not-json", "not-a-list", "no-orders-key", "empty", "bare-list"],
)
def test_a_malformed_bulk_request_stores_nothing(crm, body):
    response = crm.post(BULK, body, content_type="application/json")
    assert response.status_code == 400
    assert not Order.objects.exists() and not Customer.objects.exists()


def test_more_than_a_thousand_orders_are_refused_whole(crm):
    rows = [factories.order_row(f"C-{i}") for i in range(1001)]
    response = crm.post(BULK, {"orders": rows}, format="json")
    assert response.status_code == 400
    assert not Order.objects.exists()


def test_a_thousand_orders_in_one_request(crm, tiers):
    rows = [
        factories.order_row(f"D-{i}", customer=f"crm-{i % 50}", total="20.00") for i in range(1000)
    ]
    response = crm.post(BULK, {"orders": rows}, format="json")
    assert response.status_code == 200
    assert response.json()["created"] == 1000
    assert Order.objects.count() == 1000
    assert LoyaltyTransaction.objects.filter(kind="accrual").count() == 1000
    # again: all updates, no new points
    again = crm.post(BULK, {"orders": rows}, format="json").json()
    assert (again["created"], again["updated"]) == (0, 1000)
    assert LoyaltyTransaction.objects.filter(kind="accrual").count() == 1000


def test_bulk_costs_the_same_queries_for_ten_or_a_hundred_rows(crm, tiers):
    def queries(n: int, prefix: str) -> int:
        rows = [
            factories.order_row(f"{prefix}-{i}", customer=f"{prefix}-c{i}", total="20")
            for i in range(n)
        ]
        with CaptureQueriesContext(connection) as captured:
            assert crm.post(BULK, {"orders": rows}, format="json").status_code == 200
        return len(captured)

    queries(1, "warm-up")  # the client's "last used" is written once a minute, here
    assert queries(10, "small") == queries(100, "large")


def test_declared_allergens_of_items_land_on_the_product(crm):
    row = factories.order_row(
        "E-1",
        items=[
            {"sku": "BAGEL", "name": "Bagel", "price": "3", "allergens": ["sesame", "gluten"]},
            {"sku": "TEA", "name": "Green tea", "price": "2"},
        ],
    )
    assert crm.put(order_url("E-1"), body_of(row), format="json").status_code == 200
    assert Product.objects.get(sku="BAGEL").allergens == ["gluten", "sesame"]
    assert Product.objects.get(sku="TEA").allergens == []


def test_an_order_cannot_move_to_another_customer(crm):
    crm.put(order_url("F-1"), body_of(factories.order_row("F-1", customer="c1")), format="json")
    response = crm.put(
        order_url("F-1"), body_of(factories.order_row("F-1", customer="c2")), format="json"
    )
    assert response.status_code == 400
    assert Order.objects.get(external_id="F-1").customer.external_id == "c1"


# --- the order-status webhook -----------------------------------------------------------------


def _webhook(backoffice, payload, *, secret=None, timestamp=None, tamper=False):
    body = json.dumps(payload).encode()
    timestamp = str(int(time.time())) if timestamp is None else timestamp
    signature = sign(secret or backoffice.client.webhook_secret, timestamp, body)
    if tamper:
        body = body.replace(b"completed", b"cancelled")
    return APIClient().post(
        f"/api/v1/backoffice/webhooks/{backoffice.client.key}/order-status/",
        body,
        content_type="application/json",
        HTTP_X_SMARTDESK_TIMESTAMP=timestamp,
        HTTP_X_SMARTDESK_SIGNATURE=signature,
    )


def test_a_signed_status_webhook_completes_the_order_and_accrues_once(backoffice, tiers):
    factories.make_order("G-0", total="100")
    factories.make_order("G-1", total="500", status="placed")
    payload = {"external_id": "G-1", "status": "completed"}

    first = _webhook(backoffice, payload)
    retry = _webhook(backoffice, payload)

    assert first.status_code == 200, first.json()
    assert first.json()["applied"] and retry.status_code == 200
    assert Order.objects.get(external_id="G-1").status == "completed"
    assert LoyaltyTransaction.objects.filter(order__external_id="G-1").count() == 1


@pytest.mark.parametrize("problem", ["wrong-secret", "tampered", "stale", "no-timestamp"])
def test_a_badly_signed_webhook_changes_nothing(backoffice, problem):
    factories.make_order("G-1", total="500", status="placed")
    payload = {"external_id": "G-1", "status": "completed"}
    kwargs = {
        "wrong-secret": {"secret": "guessed"},
        "tampered": {"tamper": True},
        "stale": {"timestamp": str(int(time.time()) - 3600)},
        "no-timestamp": {"timestamp": ""},
    }[problem]

    response = _webhook(backoffice, payload, **kwargs)

    assert response.status_code == 401
    assert Order.objects.get(external_id="G-1").status == "placed"


def test_the_webhook_for_an_unknown_order_is_a_404(backoffice):
    response = _webhook(backoffice, {"external_id": "nope", "status": "completed"})
    assert response.status_code == 404


# --- the checkout -----------------------------------------------------------------------------


def test_the_checkout_reads_the_balance_redeems_once_and_cancels(crm, tiers, admin_user):
    from customers.loyalty import loyalty_adjust

    customer = factories.make_order("H-1", total="100").customer
    loyalty_adjust(customer=customer, points=100, reason="welcome", actor=admin_user)
    base = "/api/v1/backoffice/customers/crm-1/loyalty/"

    balance = crm.get(base).json()
    assert (balance["balance"], balance["tier"]["name"]) == (103, "Bronze")
    body = {"points": 60, "idempotency_key": "checkout-1"}
    first = crm.post(base + "redeem/", body, format="json")
    retry = crm.post(base + "redeem/", body, format="json")
    over = crm.post(base + "redeem/", {"points": 60, "idempotency_key": "k2"}, format="json")
    different = crm.post(
        base + "redeem/", {"points": 10, "idempotency_key": "checkout-1"}, format="json"
    )

    assert (first.json()["created"], retry.json()["created"]) == (True, False)
    assert retry.json()["balance"] == 43
    assert over.status_code == 409 and "Not enough points" in over.json()["detail"]
    assert different.status_code == 409
    cancelled = crm.post(base + "cancel/", {"idempotency_key": "checkout-1"}, format="json")
    assert cancelled.json()["balance"] == 103
    assert crm.get("/api/v1/backoffice/customers/nobody/loyalty/").status_code == 404


# --- the schema -------------------------------------------------------------------------------


def test_the_schema_documents_the_customers_endpoints_without_warnings(tmp_path):
    target = tmp_path / "schema.yml"
    GENERATOR_STATS.reset()
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    paths = yaml.safe_load(target.read_text())["paths"]
    expected = {
        "/api/v1/backoffice/customers/{external_id}/": "put",
        "/api/v1/backoffice/orders/{external_id}/": "put",
        "/api/v1/backoffice/orders/bulk/": "post",
        "/api/v1/backoffice/webhooks/{key}/order-status/": "post",
        "/api/v1/backoffice/customers/{external_id}/loyalty/": "get",
        "/api/v1/backoffice/customers/{external_id}/loyalty/redeem/": "post",
        "/api/v1/backoffice/customers/{external_id}/loyalty/cancel/": "post",
        "/api/v1/customers/{id}/card/": "get",
        "/api/v1/customers/{id}/loyalty/adjust/": "post",
        "/api/v1/loyalty/goodwill/{id}/decision/": "post",
    }
    for path, method in expected.items():
        assert method in paths[path], path
    bulk = paths["/api/v1/backoffice/orders/bulk/"]["post"]
    assert bulk["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/BulkOrders"
    }
    assert {"200", "400"} <= set(bulk["responses"])


def test_a_client_made_on_the_command_line_can_call_the_api():
    import io

    out = io.StringIO()
    call_command("create_backoffice_client", "Checkout", stdout=out)
    token = next(line.split()[-1] for line in out.getvalue().splitlines() if "Token" in line)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    assert client.get("/api/v1/backoffice/customers/nobody/loyalty/").status_code == 404
