"""The card inside a conversation: goodwill from the panel, the composer's allergy check, and
the card's reply-template placeholders."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from chats.models import Message, ReplyTemplate
from chats.services.templates import template_context, template_render, template_render_html
from customers.models import CustomerTag, GoodwillRequest, LoyaltyTransaction
from customers.selectors import loyalty_summary
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(support_inbox, tiers):
    order = factories.make_order(
        "A-1",
        total="2500",
        items=[
            {"sku": "ROLL", "name": "Salmon roll", "quantity": 2, "price": "9"},
            {"sku": "MISO", "name": "Miso <soup>", "quantity": 1, "price": "3"},
        ],
    )
    customer = order.customer
    CustomerTag.objects.create(customer=customer, kind="allergen", value="sesame")
    CustomerTag.objects.create(customer=customer, kind="allergen", value="nuts")
    return factories.make_conversation(inbox=support_inbox, customer=customer)


# --- goodwill -----------------------------------------------------------------------------------


def goodwill(client, conversation, **data):
    return client.post(
        reverse("conversation-goodwill", args=[conversation.pk]), data, HTTP_HX_REQUEST="true"
    )


def test_an_operator_grants_goodwill_within_the_limit(client, operator, conversation):
    client.force_login(operator)

    response = goodwill(client, conversation, points=150, reason="Courier was late")

    assert response.status_code == 200
    assert "150 points granted." in response.content.decode()
    line = LoyaltyTransaction.objects.get(kind="goodwill")
    assert (line.points, line.actor, line.conversation_id) == (150, operator, conversation.pk)
    # the conversation's own trail says it too
    note = Message.objects.get(conversation=conversation, kind=Message.Kind.SYSTEM)
    assert "150" in note.body and "Courier was late" in note.body


def test_goodwill_above_the_limit_asks_an_admin(client, operator, conversation):
    client.force_login(operator)

    response = goodwill(client, conversation, points=1000, reason="Wrong order twice")

    assert response.status_code == 200
    assert "an admin has been asked" in response.content.decode()
    assert GoodwillRequest.objects.get().status == GoodwillRequest.Status.PENDING
    assert loyalty_summary(conversation.customer_id).balance == 75  # 3 % of 2,500 only


def test_goodwill_needs_points_and_a_reason(client, operator, conversation):
    client.force_login(operator)
    response = goodwill(client, conversation, points=0, reason="")
    assert response.status_code == 400
    assert not LoyaltyTransaction.objects.filter(kind="goodwill").exists()


def test_goodwill_outside_the_operator_scope_is_a_404(client, outsider, conversation):
    client.force_login(outsider)
    assert goodwill(client, conversation, points=10, reason="x").status_code == 404
    assert not LoyaltyTransaction.objects.filter(kind="goodwill").exists()


def test_an_admin_approves_a_request_through_the_api(api, operator, admin_user, conversation):
    client = api(operator)
    client.force_login(operator)
    goodwill(client, conversation, points=1000, reason="Wrong order twice")
    pending = GoodwillRequest.objects.get()
    url = reverse("api-goodwill-decision", args=[pending.pk])

    assert api(operator).post(url, {"approve": True}, format="json").status_code == 403
    response = api(admin_user).post(url, {"approve": True}, format="json")

    assert response.status_code == 200 and response.json()["status"] == "approved"
    assert loyalty_summary(conversation.customer_id).balance == 1075
    assert api(admin_user).post(url, {"approve": True}, format="json").status_code == 409


def test_manual_adjustment_through_the_api_needs_the_capability(
    api, operator, admin_user, conversation
):
    url = reverse("api-loyalty-adjust", args=[conversation.customer_id])
    body = {"points": -50, "reason": "Double accrual from the old CRM"}

    assert api(operator).post(url, body, format="json").status_code == 403
    response = api(admin_user).post(url, body, format="json")

    assert response.status_code == 200, response.json()
    assert loyalty_summary(conversation.customer_id).balance == 25
    too_much = api(admin_user).post(url, {"points": -26, "reason": "x"}, format="json")
    assert too_much.status_code == 409


# --- the composer's allergy check ---------------------------------------------------------------


def check(client, conversation, body):
    return client.post(
        reverse("conversation-allergy-check", args=[conversation.pk]), {"body": body}
    )


def test_the_composer_is_warned_when_a_reply_names_an_allergen(client, operator, conversation):
    client.force_login(operator)

    warned = check(client, conversation, "Shall we add a peanut sauce and sesame seeds?").json()
    safe = check(client, conversation, "Leave out the sesame like last time?").json()

    assert [c["allergen"] for c in warned["conflicts"]] == ["sesame"]
    assert "Svetlana is allergic to sesame" in warned["message"]
    assert safe == {"conflicts": [], "message": ""}


def test_the_allergy_check_is_gated_by_the_conversation(client, outsider, conversation):
    client.force_login(outsider)
    assert check(client, conversation, "sesame").status_code == 404
    assert (
        client.get(reverse("conversation-allergy-check", args=[conversation.pk])).status_code == 405
    )


def test_the_composer_carries_the_check_url_and_the_warning(client, operator, conversation):
    client.force_login(operator)
    page = client.get(reverse("conversation", args=[conversation.pk])).content.decode()
    url = reverse("conversation-allergy-check", args=[conversation.pk])
    assert f'data-allergy-check-url="{url}"' in page
    assert 'id="allergy-warning"' in page and 'role="alert"' in page


# --- template placeholders ------------------------------------------------------------------------


def test_templates_can_use_the_card_fields(conversation, operator, tiers):
    body = (
        "{{ customer.first_name }}: {{ customer.last_order_items }} again? "
        "Allergies: {{ customer.allergies }}. {{ customer.tier }}, {{ customer.points }} points."
    )
    ReplyTemplate.objects.create(name="again", shortcut="again", body=body)

    values = template_context(conversation, operator)

    assert template_render(body, values) == (
        "Svetlana: 2 × Salmon roll, 1 × Miso <soup> again? "
        "Allergies: nuts, sesame. Gold, 75 points."
    )
    assert "Miso &lt;soup&gt;" in template_render_html(body, values)
    with pytest.raises(ValidationError):
        template_render("{{ customer.orders.all }}", values)


def test_the_offer_placeholder_gives_the_best_offer(support_inbox, operator, tiers):
    for n in range(2):
        order = factories.make_order(
            f"F-{n}", customer="fan", items=[{"sku": "ROLL", "name": "Salmon roll", "price": "9"}]
        )
    conversation = factories.make_conversation(inbox=support_inbox, customer=order.customer)

    text = template_render("{{ customer.offer }}", template_context(conversation, operator))

    assert text.startswith("Your favourite Salmon roll again?")


def test_unused_card_fields_cost_no_queries(conversation, operator, django_assert_num_queries):
    assert conversation.customer  # loaded with the conversation, as the views do
    values = template_context(conversation, operator)
    with django_assert_num_queries(0):
        assert template_render("Hello {{ customer.first_name }}", values) == "Hello Svetlana"
