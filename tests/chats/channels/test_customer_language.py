"""The customer's language: stored from every channel that tells it (Telegram's
`language_code`, the widget's browser language, the mobile app, the back office), shown on
the card, used to pick reply templates and to speak to the customer (CSAT, widget texts)."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import translation

from accounts.models import User
from analytics.models import CsatResponse
from chats.channels.client.sessions import identify_signature
from chats.models import Conversation, Inbox, ReplyTemplate
from chats.services.conversations import conversation_close
from chats.services.templates import template_context, template_render
from customers.languages import customer_language_set, language_label, language_normalise
from customers.models import Customer, LanguageSource
from tests import factories
from tests.chats.channels.conftest import CUSTOMER_TG, committed, update, webhook
from tests.chats.channels.test_client_api import SITE, api, client_for

pytestmark = pytest.mark.django_db

CHANNEL = LanguageSource.CHANNEL


@pytest.fixture(autouse=True)
def _language_restored():
    """A signed-in request activates the operator's language in this thread: put it back."""
    with translation.override(translation.get_language()):
        yield


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    cache.clear()


# --- normalising and storing ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("ru-RU", "ru"),
        ("RU", "ru"),
        ("ru_RU", "ru"),
        ("en-GB", "en"),
        (" uk ", "uk"),
        ("pt-br", "pt"),
        ("zh-Hans-CN", "zh"),
        ("", ""),
        ("ru;q=0.9", ""),
        ("xx", ""),
        ("<script>", ""),
        (None, ""),
        (42, ""),
    ],
)
def test_a_language_is_stored_as_a_known_code_without_its_region(raw, stored) -> None:
    assert language_normalise(raw) == stored


def test_an_unknown_language_never_overwrites_a_known_one_and_the_latest_known_wins() -> None:
    customer = factories.make_customer("Светлана")

    assert customer_language_set(customer=customer, language="ru-RU", source=CHANNEL) is True
    assert customer_language_set(customer=customer, language="", source=CHANNEL) is False
    assert customer_language_set(customer=customer, language="??", source=CHANNEL) is False
    assert Customer.objects.get(pk=customer.pk).language == "ru"
    assert customer_language_set(customer=customer, language="en-US", source=CHANNEL) is True
    assert Customer.objects.get(pk=customer.pk).language == "en"


def test_the_language_is_named_in_the_operators_language() -> None:
    with translation.override("en"):
        assert language_label("ru") == "Russian"
    with translation.override("ru"):
        assert language_label("ru") == "Русский"
    assert language_label("") == ""
    with translation.override("en"):
        assert language_label("zh") == "Simplified Chinese"  # no plain "zh": its first variant
    assert language_label("garbage!") == "garbage!"


# --- Telegram ------------------------------------------------------------------------------


def test_telegram_language_code_is_stored_on_the_customer(bot_api, telegram_inbox) -> None:
    sender = {**CUSTOMER_TG, "language_code": "ru-RU"}

    response = webhook(Client(), telegram_inbox, update(text="Привет", from_=sender))

    assert response.status_code == 200
    assert Customer.objects.get().language == "ru"


def test_a_telegram_update_without_language_code_keeps_the_stored_one(
    bot_api, telegram_inbox
) -> None:
    webhook(Client(), telegram_inbox, update(text="Привет", from_=CUSTOMER_TG))
    silent = {k: v for k, v in CUSTOMER_TG.items() if k != "language_code"}

    webhook(Client(), telegram_inbox, update(text="Ещё вопрос", from_=silent))

    assert Customer.objects.get().language == "ru"


def test_the_telegram_csat_question_is_in_the_customers_language(
    bot_api, telegram_inbox, operator
) -> None:
    sender = {**CUSTOMER_TG, "language_code": "ru-RU"}
    webhook(Client(), telegram_inbox, update(text="Где мой заказ?", from_=sender))
    conversation = Conversation.objects.get()

    with translation.override("en"), committed():  # the operator works in English
        conversation_close(conversation=conversation, actor=operator)

    [ask] = bot_api.called("sendMessage")
    assert ask.params["text"].startswith("Как мы справились?")
    assert CsatResponse.objects.get().delivery == "telegram: sent"
    # the press is thanked in Russian too
    five = ask.params["reply_markup"]["inline_keyboard"][0][4]["callback_data"]
    press = {
        "update_id": 990_001,
        "callback_query": {
            "id": "cb-ru",
            "from": sender,
            "chat_instance": "-1",
            "data": five,
            "message": {"message_id": 77, "date": 0, "chat": {"id": sender["id"]}},
        },
    }
    webhook(Client(), telegram_inbox, press)
    [thanks] = bot_api.called("editMessageText")
    assert thanks.params["text"] == "Спасибо! Ваша оценка: 5 из 5."


# --- the widget and the mobile app (client API) --------------------------------------------


def test_the_widget_session_carries_the_browser_language_to_the_new_customer(support) -> None:
    widget = factories.make_inbox(
        name="Website", kind=Inbox.Kind.WIDGET, team=support, allowed_origins=SITE + "\n"
    )
    started = client_for().post(api(widget, "session/"), {"language": "ru-RU"}, format="json")
    assert started.status_code == 201, started.content
    token = started.json()["token"]

    sent = client_for(token).post(
        api(widget, "messages/"), {"client_id": "c-1", "text": "Здравствуйте"}, format="json"
    )

    assert sent.status_code == 201, sent.content
    assert Customer.objects.get().language == "ru"


def test_a_language_that_is_not_a_string_is_a_clear_400(support) -> None:
    widget = factories.make_inbox(
        name="Website", kind=Inbox.Kind.WIDGET, team=support, allowed_origins=SITE + "\n"
    )

    response = client_for().post(api(widget, "session/"), {"language": ["ru"]}, format="json")
    exotic = client_for().post(api(widget, "session/"), {"language": "tlh-Piqd"}, format="json")

    assert response.status_code == 400
    assert "language" in response.content.decode()
    assert exotic.status_code == 201  # a language we do not know just says nothing


def test_the_mobile_app_tells_the_language_on_identify_and_on_each_message(support) -> None:
    app = factories.make_inbox(name="App", kind=Inbox.Kind.MOBILE, team=support)
    values = {"user_id": "u-77"}
    body = {**values, "signature": identify_signature(app.secret, values), "language": "ru"}

    identified = client_for(origin=None).post(api(app, "identify/"), body, format="json")

    assert identified.status_code == 200, identified.content
    customer = Customer.objects.get()
    assert customer.language == "ru"
    token = identified.json()["token"]
    sent = client_for(token, origin=None).post(
        api(app, "messages/"),
        {"client_id": "m-1", "text": "Hello", "language": "en-GB"},
        format="json",
    )
    assert sent.status_code == 201, sent.content
    assert Customer.objects.get().language == "en"  # the latest the app says wins


def test_the_widget_script_speaks_the_browsers_language_and_words_a_network_error() -> None:
    inbox = factories.make_inbox(name="Сайт", kind=Inbox.Kind.WIDGET)

    body = Client(HTTP_ACCEPT_LANGUAGE="ru-RU,ru;q=0.9").get(f"/widget/{inbox.key}.js")

    text = body.content.decode()
    assert '"How did we do?": "Как мы справились?"' in text
    assert '"lang": "ru"' in text
    offline = re.search(r'"offline": "([^"]*)"', text)
    assert offline is not None
    assert offline.group(1).startswith("Нет связи")


# --- the back office -----------------------------------------------------------------------


def test_the_back_office_language_is_normalised_and_nonsense_refused() -> None:
    from rest_framework.test import APIClient

    from customers.auth import integration_client_create

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {integration_client_create(name='CRM').token}")

    good = client.put(
        "/api/v1/backoffice/customers/bo-1/",
        {"first_name": "Мария", "language": "ru-RU"},
        format="json",
    )
    bad = client.put("/api/v1/backoffice/customers/bo-2/", {"language": "klingon!"}, format="json")

    assert good.status_code == 200, good.content
    assert Customer.objects.get(external_id="bo-1").language == "ru"
    assert bad.status_code == 400
    assert "language" in bad.content.decode()


# --- the card, the template picker, the placeholders ---------------------------------------


def _thread_for(operator: User, customer: Customer, support) -> Conversation:
    inbox = factories.make_inbox(name="Website API", team=support)
    return factories.make_conversation(inbox=inbox, customer=customer, assignee=operator)


def test_the_card_names_the_customers_language(operator, support) -> None:
    customer = factories.make_customer("Светлана", "Морозова")
    customer_language_set(customer=customer, language="ru", source=CHANNEL)
    conversation = _thread_for(operator, customer, support)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(operator)

    page = client.get(f"/inbox/c/{conversation.pk}/panel/").content.decode()

    assert re.search(r'class="customer-language"[^>]*>\s*Russian\s*<', page)


def test_the_picker_offers_the_customers_language_first(operator, support) -> None:
    ReplyTemplate.objects.create(
        shortcut="hello", name="Greeting", language="en", body="Hello {{ customer.first_name }}!"
    )
    ReplyTemplate.objects.create(
        shortcut="hello",
        name="Приветствие",
        language="ru",
        body="Здравствуйте, {{ customer.first_name }}!",
    )
    ReplyTemplate.objects.create(
        shortcut="help", name="Help", language="en", body="How can I help?"
    )
    customer = factories.make_customer("Светлана")
    customer_language_set(customer=customer, language="ru-RU", source=CHANNEL)
    conversation = _thread_for(operator, customer, support)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")  # the operator works in English
    client.force_login(operator)

    html = client.get(f"/inbox/c/{conversation.pk}/templates/?q=hel").content.decode()

    texts = re.findall(r'data-text="([^"]*)"', html)
    assert texts[0] == "Здравствуйте, Светлана!"
    assert set(texts[1:]) == {"Hello Светлана!", "How can I help?"}
    assert re.search(r'class="template-lang"[^>]*>\s*ru\s*<', html)


def test_with_the_customers_language_unknown_the_operators_comes_first(operator, support):
    ReplyTemplate.objects.create(shortcut="hello", name="Greeting", language="en", body="Hi")
    ReplyTemplate.objects.create(shortcut="hello", name="Привет", language="ru", body="Привет")
    conversation = _thread_for(operator, factories.make_customer("Sam"), support)
    client = Client(HTTP_ACCEPT_LANGUAGE="ru")
    client.force_login(operator)

    html = client.get(f"/inbox/c/{conversation.pk}/templates/?q=hel").content.decode()

    assert re.findall(r'data-text="([^"]*)"', html) == ["Привет", "Hi"]


def test_a_cyrillic_name_is_rendered_exactly_as_stored(operator, support) -> None:
    customer = factories.make_customer("Светлана", "Морозова-Ёлкина")
    conversation = _thread_for(operator, customer, support)

    text = template_render(
        "Здравствуйте, {{ customer.first_name }} {{ customer.last_name }}!",
        template_context(conversation, operator),
    )

    assert text == "Здравствуйте, Светлана Морозова-Ёлкина!"


# --- the channel API of `api` inboxes ------------------------------------------------------


def test_a_channel_api_message_may_say_the_customers_language(support) -> None:
    import json

    inbox = factories.make_inbox(name="Partner API", team=support)
    body = {
        "external_id": "p-1",
        "customer": {"kind": "email", "value": "maria@partner.test", "language": "ru-RU"},
        "text": "Заказ пришёл холодным",
    }

    response = Client().post(
        f"/api/v1/inboxes/{inbox.key}/messages/",
        json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {inbox.secret}",
    )

    assert response.status_code == 201, response.content
    assert Customer.objects.get().language == "ru"


def test_the_template_api_lists_the_customers_language_first(operator, support) -> None:
    from rest_framework.test import APIClient

    ReplyTemplate.objects.create(shortcut="hello", name="Greeting", language="en", body="Hi")
    ReplyTemplate.objects.create(shortcut="hello", name="Привет", language="ru", body="Привет")
    customer = factories.make_customer("Светлана")
    customer_language_set(customer=customer, language="ru", source=CHANNEL)
    conversation = _thread_for(operator, customer, support)
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.force_authenticate(operator)

    listed = client.get(f"/api/v1/templates/?conversation={conversation.pk}")

    assert listed.status_code == 200, listed.content
    assert [t["language"] for t in listed.json()] == ["ru", "en"]
