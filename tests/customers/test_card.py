"""The customer card: in the thread's side panel (loaded after the page) and in the API.
Allergies and the last order for a customer with 500 orders, in a bounded number of queries;
phones, e-mails and addresses only for roles with the personal-data capability."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from customers.models import Customer, CustomerTag
from customers.orders import orders_upsert
from customers.serializers import BulkOrderSerializer
from tests import factories

pytestmark = pytest.mark.django_db

PHONE = "+79120001122"
ADDRESS = "Lenina 1, flat 5"


def _svetlana(orders: int, *, prefix: str = "S", phone: str = PHONE) -> Customer:
    """A customer who writes from her phone, allergic to sesame, with `orders` orders (the
    newest one with a miso soup and a salmon roll without sesame)."""
    customer = factories.make_customer("Svetlana", phone=phone)
    Customer.objects.filter(pk=customer.pk).update(external_id=f"crm-{prefix}")
    CustomerTag.objects.create(customer=customer, kind="allergen", value="sesame")
    CustomerTag.objects.create(customer=customer, kind="dislike", value="coriander")
    start = timezone.now() - timedelta(days=orders)
    rows = []
    for i in range(orders):
        newest = i == orders - 1
        items = [
            {"sku": "ROLL", "name": "Salmon roll", "price": "9", "modifiers": ["no sesame"]},
            {
                "sku": "MISO" if newest else "TEA",
                "name": "Miso soup" if newest else "Tea",
                "price": "3",
            },
        ]
        row = factories.order_row(
            f"{prefix}-{i}",
            customer=f"crm-{prefix}",
            total="12.00",
            placed_at=start + timedelta(days=i),
            items=items,
            address=ADDRESS,
        )
        serializer = BulkOrderSerializer(data=row)
        serializer.is_valid(raise_exception=True)
        rows.append((i, serializer.validated_data))
    for chunk in range(0, len(rows), 1000):
        orders_upsert(rows=rows[chunk : chunk + 1000])
    customer.refresh_from_db()
    return customer


def _panel(client, conversation):
    return client.get(reverse("conversation-panel", args=[conversation.pk]))


def test_the_page_loads_the_card_after_it(client, operator, support_inbox, tiers):
    conversation = factories.make_conversation(inbox=support_inbox, customer=_svetlana(3))
    client.force_login(operator)

    page = client.get(reverse("conversation", args=[conversation.pk])).content.decode()
    card_url = reverse("conversation-panel", args=[conversation.pk]) + "?part=card"
    card = client.get(card_url).content.decode()

    assert f'hx-get="{card_url}"' in page and 'hx-trigger="load"' in page
    assert "Previous conversations" in page  # the rest of the panel is on the page
    assert "Salmon roll" not in page  # the orders come with the card, after the page
    assert card.lstrip().startswith("<link") and 'id="customer-card"' in card
    assert "Salmon roll" in card and "Previous conversations" not in card


def test_the_card_shows_allergies_and_the_last_order_of_500_in_bounded_queries(
    client, admin_user, support_inbox, tiers
):
    small = factories.make_conversation(
        inbox=support_inbox, customer=_svetlana(5, prefix="F", phone="+79120005555")
    )
    factories.make_customer("Other", phone="+79990000000")
    big_customer = _svetlana(500, prefix="B")
    big = factories.make_conversation(inbox=support_inbox, customer=big_customer)
    client.force_login(admin_user)
    _panel(client, small)  # warm the session and the profile caches alike

    with CaptureQueriesContext(connection) as few:
        assert _panel(client, small).status_code == 200
    with CaptureQueriesContext(connection) as many:
        response = _panel(client, big)

    assert response.status_code == 200
    html = response.content.decode()
    assert len(many) == len(few), [q["sql"][:80] for q in many.captured_queries]
    assert len(many) <= 30
    assert 'class="card-allergies has-allergies"' in html and "Sesame" in html
    assert "500 in all" in html
    last = html.split('class="order order-last"')[1].split("</li>\n    \n")[0]
    assert "Miso soup" in last and "Salmon roll" in last and "no sesame" in last
    assert "Coriander" in html or "coriander" in html
    assert "Mentions" not in html  # "no sesame" is what she asked for, not a warning
    # an admin sees the address and the phone
    assert ADDRESS in html and PHONE in html


def test_an_operator_without_the_capability_sees_no_phone_or_address(
    client, operator, support_inbox, tiers
):
    conversation = factories.make_conversation(inbox=support_inbox, customer=_svetlana(2))
    client.force_login(operator)

    html = _panel(client, conversation).content.decode()

    assert "Sesame" in html and "Miso soup" in html
    assert PHONE not in html and ADDRESS not in html
    assert "Addresses hidden" in html


def test_the_card_api_masks_personal_data_by_role(
    api, operator, admin_user, outsider, support_inbox, tiers
):
    customer = _svetlana(2)
    url = reverse("api-customer-card", args=[customer.pk])
    # No conversation anna may see yet: the card is not hers to read (404, like a thread).
    assert api(operator).get(url).status_code == 404
    factories.make_conversation(inbox=support_inbox, customer=customer)
    assert api(outsider).get(url).status_code == 404  # Delivery sees no such conversation

    as_operator = api(operator).get(url).json()
    as_admin = api(admin_user).get(url).json()

    assert as_operator["allergies"] == ["sesame"]
    assert as_operator["last_orders"][0]["items"][0]["name"] == "Salmon roll"
    assert as_operator["last_orders"][0]["address"] != ADDRESS
    assert PHONE not in str(as_operator) and ADDRESS not in str(as_operator)
    assert as_operator["contacts"][0]["masked"] is True
    assert as_admin["contacts"][0]["value"] == PHONE
    assert as_admin["last_orders"][0]["address"] == ADDRESS
    assert api(None).get(url).status_code in (401, 403)


def test_the_panel_is_gated_by_the_conversation(client, outsider, support_inbox, tiers):
    conversation = factories.make_conversation(inbox=support_inbox, customer=_svetlana(1))
    client.force_login(outsider)
    assert _panel(client, conversation).status_code == 404


def test_the_card_counts_contacts_by_channel(client, admin_user, support_inbox, delivery_inbox):
    customer = factories.make_customer("Svetlana", phone=PHONE)
    first = factories.make_conversation(inbox=support_inbox, customer=customer)
    factories.make_conversation(inbox=delivery_inbox, customer=customer)
    client.force_login(admin_user)

    html = _panel(client, first).content.decode()

    assert "Conversations</dt><dd>2 (API: 2)" in html


def test_an_order_that_names_an_allergen_is_flagged(client, operator, support_inbox, tiers):
    order = factories.make_order(
        "W-1", items=[{"sku": "BAGEL", "name": "Sesame bagel", "price": "3"}]
    )
    CustomerTag.objects.create(customer=order.customer, kind="allergen", value="sesame")
    conversation = factories.make_conversation(inbox=support_inbox, customer=order.customer)
    client.force_login(operator)

    html = _panel(client, conversation).content.decode()

    assert '<p class="order-warning">Mentions sesame.</p>' in html


def test_the_history_counts_calls_and_the_average_csat(
    client, admin_user, support_inbox, delivery_inbox
):
    from django.apps import apps

    call_model = apps.get_model("telephony.Call")
    pbx_model = apps.get_model("telephony.Pbx")
    csat_model = apps.get_model("analytics.CsatResponse")
    customer = factories.make_customer("Svetlana", phone=PHONE)
    conversation = factories.make_conversation(inbox=support_inbox, customer=customer)
    other = factories.make_conversation(inbox=delivery_inbox, customer=customer)
    pbx = pbx_model.objects.create(name="Office PBX")
    now = timezone.now()
    for n in range(2):
        call_model.objects.create(
            pbx=pbx, linkedid=f"call-{n}", customer=customer, started_at=now - timedelta(days=n)
        )
    for survey, rating in ((conversation, 5), (other, 4)):
        csat_model.objects.create(
            conversation=survey, channel="api", requested_at=now, rating=rating, answered_at=now
        )
    client.force_login(admin_user)

    html = _panel(client, conversation).content.decode()

    assert "Calls</dt><dd>2</dd>" in html
    assert "4.5 / 5 (2 answers)" in html
