"""GET /api/v1/templates/ and /api/v1/templates/<id>/render/?conversation=<id>."""

from __future__ import annotations

import pytest

from chats.models import ReplyTemplate
from chats.services.templates import reply_template_save
from tests import factories

pytestmark = pytest.mark.django_db

LIST = "/api/v1/templates/"


def make_template(shortcut: str, body: str, team=None) -> ReplyTemplate:
    return reply_template_save(
        template=ReplyTemplate(name=shortcut.title(), shortcut=shortcut, body=body, team=team),
        actor=None,
    )


def shortcuts(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [t["shortcut"] for t in response.json()]


@pytest.fixture
def templates(support, delivery) -> dict[str, ReplyTemplate]:
    return {
        "hello": make_template("hello", "Hello, {{ customer.first_name }}!"),
        "refund": make_template("refund", "Your refund is on its way.", team=support),
        "courier": make_template("courier", "The courier is near.", team=delivery),
    }


def test_each_operator_gets_the_global_templates_and_those_of_their_teams(
    api, operator, outsider, admin_user, templates, support
) -> None:
    assert shortcuts(api(operator).get(LIST)) == ["hello", "refund"]
    assert shortcuts(api(outsider).get(LIST)) == ["courier", "hello"]
    assert shortcuts(api(admin_user).get(LIST)) == ["courier", "hello", "refund"]
    row = api(operator).get(LIST).json()[1]
    assert row["team"] == {"id": support.pk, "name": "Support"}
    assert set(row) == {"id", "name", "shortcut", "body", "team", "language", "updated_at"}


def test_q_matches_the_start_of_the_shortcut(api, operator, templates) -> None:
    assert shortcuts(api(operator).get(LIST, {"q": "/re"})) == ["refund"]
    assert shortcuts(api(operator).get(LIST, {"q": "fund"})) == []


def test_a_conversation_adds_its_teams_templates(api, operator, templates, delivery_inbox) -> None:
    # The operator sees this Delivery conversation because it is assigned to them.
    conversation = factories.make_conversation(inbox=delivery_inbox, assignee=operator)

    listed = shortcuts(api(operator).get(LIST, {"conversation": conversation.pk}))

    assert listed == ["courier", "hello", "refund"]


def test_a_conversation_outside_the_scope_is_a_404(
    api, outsider, templates, support_conversation
) -> None:
    response = api(outsider).get(LIST, {"conversation": support_conversation.pk})

    assert response.status_code == 404


def test_render_fills_the_placeholders_and_escapes_the_preview(
    api, operator, support_inbox
) -> None:
    customer = factories.make_customer("<b>Olga</b>")
    conversation = factories.make_conversation(inbox=support_inbox, customer=customer)
    template = make_template("hi", "Hi {{ customer.first_name }} & welcome!\nBye")

    response = api(operator).get(f"{LIST}{template.pk}/render/", {"conversation": conversation.pk})

    assert response.status_code == 200, response.content
    assert response.json() == {
        "text": "Hi <b>Olga</b> & welcome!\nBye",
        "html": "Hi <mark>&lt;b&gt;Olga&lt;/b&gt;</mark> &amp; welcome!<br>Bye",
    }


def test_render_of_an_unknown_placeholder_is_a_400_naming_it(
    api, operator, support_conversation
) -> None:
    # Stored before the whitelist changed: the service would refuse it today.
    template = ReplyTemplate.objects.create(
        name="Old", shortcut="old", body="Your balance: {{ customer.balance }}"
    )

    response = api(operator).get(
        f"{LIST}{template.pk}/render/", {"conversation": support_conversation.pk}
    )

    assert response.status_code == 400
    assert "customer.balance" in response.json()["detail"]


def test_render_needs_a_visible_conversation_and_an_offered_template(
    api, operator, outsider, templates, support_conversation
) -> None:
    url = f"{LIST}{templates['hello'].pk}/render/"

    assert api(operator).get(url).status_code == 400  # which conversation?
    assert api(outsider).get(url, {"conversation": support_conversation.pk}).status_code == 404
    courier = f"{LIST}{templates['courier'].pk}/render/"
    assert api(operator).get(courier, {"conversation": support_conversation.pk}).status_code == 404
    assert api(None).get(url, {"conversation": support_conversation.pk}).status_code in (401, 403)
