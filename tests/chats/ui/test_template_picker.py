"""The "/shortcut" template picker: filtered by prefix, previewed with the conversation's
values (escaped), and a template with an unknown placeholder cannot be inserted."""

from __future__ import annotations

import pytest
from django.urls import reverse

from chats.models import ReplyTemplate
from chats.services.templates import reply_template_save
from tests import factories
from tests.chats.ui.conftest import page_text

pytestmark = pytest.mark.django_db


def template(shortcut: str, body: str, **fields) -> ReplyTemplate:
    return reply_template_save(
        template=ReplyTemplate(shortcut=shortcut, name=shortcut.title(), body=body, **fields),
        actor=None,
    )


def picker(client, conversation, q: str = "") -> str:
    response = client.get(reverse("conversation-templates", args=[conversation.pk]), {"q": q})
    assert response.status_code == 200
    return page_text(response)


def test_templates_are_filtered_by_the_typed_prefix(
    client_for, operator, conversation, support, delivery
) -> None:
    template("hello", "Здравствуйте, {{ customer.first_name }}!")
    template("help", "Чем помочь?", team=support)
    template("delay", "Простите за задержку.")
    template("heavy", "Только для доставки", team=delivery)

    html = picker(client_for(operator), conversation, "he")

    assert "/hello" in html and "/help" in html
    assert "/delay" not in html
    assert "/heavy" not in html  # another team's template
    assert 'role="listbox"' in html and html.count('role="option"') == 2


def test_the_preview_and_the_text_are_personalised(client_for, operator, conversation) -> None:
    template("hello", "Здравствуйте, {{ customer.first_name }}! Меня зовут {{ operator.name }}.")

    html = picker(client_for(operator), conversation, "hel")

    assert "Здравствуйте, <mark>Svetlana</mark>! Меня зовут <mark>anna</mark>." in html
    assert 'data-text="Здравствуйте, Svetlana! Меня зовут anna."' in html


def test_the_preview_escapes_the_customer_name(client_for, operator, support_inbox) -> None:
    customer = factories.make_customer('<script>alert("x")</script>')
    conversation = factories.make_conversation(
        inbox=support_inbox, customer=customer, assignee=operator
    )
    template("hello", "Hello {{ customer.first_name }}")

    html = picker(client_for(operator), conversation, "hello")

    assert "<script>" not in html
    assert "<mark>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;</mark>" in html
    assert 'data-text="Hello &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"' in html


def test_an_unknown_placeholder_shows_its_error_and_cannot_be_chosen(
    client_for, operator, conversation
) -> None:
    # Stored before the field left the whitelist: the renderer still refuses it.
    ReplyTemplate.objects.create(
        shortcut="card", name="Card", body="Ваша карта {{ customer.card }}"
    )

    html = picker(client_for(operator), conversation, "card")

    assert 'aria-disabled="true"' in html
    assert "Unknown placeholders: customer.card." in html
    assert "data-text" not in html


def test_no_match_says_so(client_for, operator, conversation) -> None:
    html = picker(client_for(operator), conversation, "zzz")

    assert "No template starts with this shortcut." in html


def test_the_customer_language_comes_first(client_for, operator, support_inbox) -> None:
    customer = factories.make_customer("Ivan")
    customer.language = "ru"
    customer.save(update_fields=["language"])
    conversation = factories.make_conversation(inbox=support_inbox, customer=customer)
    template("hello", "Hello!", language="en")
    template("hello", "Привет!", language="ru")

    html = picker(client_for(operator), conversation, "hello")

    assert html.index("Привет!") < html.index("Hello!")
