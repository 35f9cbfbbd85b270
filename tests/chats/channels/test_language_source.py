"""The customer's language is ranked by where it came from (customers.languages): a browser's
guess (HINT) < what a messenger or the app declares (CHANNEL) < what a person or the business
set (EXPLICIT). A value replaces the stored one only from a source ranked at least as high; a
hint only fills an empty language. A Russian customer on an English work browser stays
Russian."""

from __future__ import annotations

import json

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import User
from chats.channels.client.sessions import identify_signature
from chats.models import Inbox
from customers.auth import integration_client_create
from customers.identities import customer_merge, customer_unmerge
from customers.languages import customer_language_set
from customers.models import Customer, LanguageSource
from customers.services import customer_identify
from tests import factories
from tests.chats.channels.conftest import CUSTOMER_TG, update, webhook
from tests.chats.channels.test_client_api import SITE, api, client_for

pytestmark = pytest.mark.django_db

HINT, CHANNEL, EXPLICIT = LanguageSource.HINT, LanguageSource.CHANNEL, LanguageSource.EXPLICIT


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    cache.clear()


def _stored(customer: Customer) -> tuple[str, int]:
    fresh = Customer.objects.get(pk=customer.pk)
    return fresh.language, fresh.language_source


# --- the rule ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "said", "after"),
    [
        (("", HINT), ("en", HINT), ("en", HINT)),  # a hint fills an empty language
        (("ru", HINT), ("en", HINT), ("en", HINT)),  # and replaces another hint
        (("ru", CHANNEL), ("en", HINT), ("ru", CHANNEL)),
        (("ru", EXPLICIT), ("en", HINT), ("ru", EXPLICIT)),
        (("ru", HINT), ("en", CHANNEL), ("en", CHANNEL)),
        (("ru", CHANNEL), ("en", CHANNEL), ("en", CHANNEL)),  # the latest channel word wins
        (("ru", EXPLICIT), ("en", CHANNEL), ("ru", EXPLICIT)),
        (("ru", CHANNEL), ("en", EXPLICIT), ("en", EXPLICIT)),
        (("ru", EXPLICIT), ("en", EXPLICIT), ("en", EXPLICIT)),
        (("ru", HINT), ("ru", CHANNEL), ("ru", CHANNEL)),  # same language, firmer source
        (("ru", EXPLICIT), ("", EXPLICIT), ("ru", EXPLICIT)),  # nothing said changes nothing
        (("ru", HINT), ("klingon!", EXPLICIT), ("ru", HINT)),
    ],
)
def test_a_language_replaces_the_stored_one_only_from_a_source_ranked_as_high(
    stored, said, after
) -> None:
    customer = factories.make_customer("Мария")
    Customer.objects.filter(pk=customer.pk).update(language=stored[0], language_source=stored[1])
    customer.refresh_from_db()

    changed = customer_language_set(customer=customer, language=said[0], source=said[1])

    assert _stored(customer) == after
    assert (customer.language, customer.language_source) == after
    assert changed is (after != stored)


def test_a_stale_customer_object_does_not_overwrite_a_firmer_language() -> None:
    customer = factories.make_customer("Мария")
    stale = Customer.objects.get(pk=customer.pk)
    customer_language_set(customer=customer, language="ru", source=EXPLICIT)

    assert customer_language_set(customer=stale, language="en", source=HINT) is False
    assert _stored(customer) == ("ru", EXPLICIT)
    assert (stale.language, stale.language_source) == ("ru", EXPLICIT)  # refreshed


# --- the widget's browser hint against the back office -------------------------------------


def _widget(support) -> Inbox:
    return factories.make_inbox(
        name="Website", kind=Inbox.Kind.WIDGET, team=support, allowed_origins=SITE + "\n"
    )


def _identify(inbox: Inbox, email: str, accept: str = "", **language: str):
    values = {"email": email}
    body = {**values, "signature": identify_signature(inbox.secret, values), **language}
    client = client_for()
    if accept:
        client.credentials(HTTP_ORIGIN=SITE, HTTP_ACCEPT_LANGUAGE=accept)
    return client.post(api(inbox, "identify/"), body, format="json")


def test_a_browser_hint_does_not_change_the_language_the_back_office_set(support) -> None:
    crm = APIClient()
    crm.credentials(HTTP_AUTHORIZATION=f"Bearer {integration_client_create(name='CRM').token}")
    put = crm.put(
        "/api/v1/backoffice/customers/bo-1/",
        {"first_name": "Мария", "language": "ru", "emails": ["maria@shop.test"]},
        format="json",
    )
    assert put.status_code == 200, put.content
    customer = Customer.objects.get(external_id="bo-1")
    assert _stored(customer) == ("ru", EXPLICIT)
    widget = _widget(support)

    # An English work browser: navigator.language and Accept-Language both say English.
    said = _identify(widget, "maria@shop.test", accept="en-US,en;q=0.9", language="en-US")
    header_only = _identify(widget, "maria@shop.test", accept="en-US,en;q=0.9")

    assert said.status_code == 200, said.content
    assert header_only.status_code == 200, header_only.content
    assert said.json()["customer_id"] == customer.pk
    assert _stored(customer) == ("ru", EXPLICIT)
    # and a message with the hint from that browser changes nothing either
    sent = client_for(said.json()["token"]).post(
        api(widget, "messages/"),
        {"client_id": "m-1", "text": "Hello", "language": "en"},
        format="json",
    )
    assert sent.status_code == 201, sent.content
    assert _stored(customer) == ("ru", EXPLICIT)


def test_a_browser_hint_fills_an_empty_language(support) -> None:
    widget = _widget(support)
    started = client_for().post(api(widget, "session/"), {"language": "ru-RU"}, format="json")
    token = started.json()["token"]

    client_for(token).post(
        api(widget, "messages/"), {"client_id": "c-1", "text": "Здравствуйте"}, format="json"
    )

    assert _stored(Customer.objects.get()) == ("ru", HINT)


def test_the_host_pages_language_is_explicit_and_overrides_a_channels(support) -> None:
    customer = factories.make_customer("Мария", email="maria@shop.test")
    customer_language_set(customer=customer, language="en", source=CHANNEL)
    widget = _widget(support)

    hinted = _identify(widget, "maria@shop.test", language="ru")
    assert hinted.status_code == 200, hinted.content
    assert _stored(customer) == ("en", CHANNEL)  # a browser's guess: no

    paged = _identify(widget, "maria@shop.test", language="ru-RU", language_source="page")
    assert paged.status_code == 200, paged.content
    assert _stored(customer) == ("ru", EXPLICIT)


def test_the_host_pages_language_at_session_start_is_explicit(support) -> None:
    customer = customer_identify(kind="telegram", value="7001")
    widget = _widget(support)
    started = client_for().post(
        api(widget, "session/"), {"language": "uk", "language_source": "page"}, format="json"
    )
    assert started.status_code == 201, started.content

    client_for(started.json()["token"]).post(
        api(widget, "messages/"), {"client_id": "c-1", "text": "Привіт"}, format="json"
    )

    visitor = Customer.objects.exclude(pk=customer.pk).get()
    assert _stored(visitor) == ("uk", EXPLICIT)


def test_an_unknown_language_source_is_a_clear_400(support) -> None:
    widget = _widget(support)

    response = client_for().post(
        api(widget, "session/"), {"language": "ru", "language_source": "guess"}, format="json"
    )

    assert response.status_code == 400
    assert "language_source" in response.content.decode()


def test_the_mobile_apps_language_is_a_channels_word(support) -> None:
    app = factories.make_inbox(name="App", kind=Inbox.Kind.MOBILE, team=support)
    values = {"user_id": "u-77"}
    body = {**values, "signature": identify_signature(app.secret, values), "language": "ru"}

    identified = client_for(origin=None).post(api(app, "identify/"), body, format="json")

    assert identified.status_code == 200, identified.content
    assert _stored(Customer.objects.get()) == ("ru", CHANNEL)


# --- Telegram ------------------------------------------------------------------------------


def test_telegram_does_not_override_an_explicit_language_but_overrides_a_hint(
    bot_api, telegram_inbox
) -> None:
    customer = customer_identify(kind="telegram", value=str(CUSTOMER_TG["id"]))
    customer_language_set(customer=customer, language="ru", source=EXPLICIT)
    english = {**CUSTOMER_TG, "language_code": "en"}

    webhook(Client(), telegram_inbox, update(text="Hi", from_=english))
    assert _stored(customer) == ("ru", EXPLICIT)

    Customer.objects.filter(pk=customer.pk).update(language_source=HINT)
    webhook(Client(), telegram_inbox, update(text="Hi again", from_=english))
    assert _stored(customer) == ("en", CHANNEL)


def test_the_channel_apis_customer_language_is_explicit(support) -> None:
    customer = factories.make_customer("Мария", email="maria@partner.test")
    customer_language_set(customer=customer, language="en", source=CHANNEL)
    inbox = factories.make_inbox(name="Partner API", team=support)
    body = {
        "external_id": "p-1",
        "customer": {"kind": "email", "value": "maria@partner.test", "language": "ru"},
        "text": "Заказ пришёл холодным",
    }

    response = Client().post(
        f"/api/v1/inboxes/{inbox.key}/messages/",
        json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {inbox.secret}",
    )

    assert response.status_code == 201, response.content
    assert _stored(customer) == ("ru", EXPLICIT)


# --- merges --------------------------------------------------------------------------------


def test_a_merge_keeps_the_higher_ranked_language_and_an_undo_restores_it() -> None:
    kept = factories.make_customer("Мария", email="maria@shop.test")
    customer_language_set(customer=kept, language="en", source=HINT)
    other = factories.make_customer("Мария", phone="+79160000001")
    customer_language_set(customer=other, language="ru", source=EXPLICIT)

    merge = customer_merge(source=other, target=kept)
    assert _stored(kept) == ("ru", EXPLICIT)

    customer_unmerge(merge=merge)
    assert _stored(kept) == ("en", HINT)


def test_a_merge_does_not_let_a_lower_ranked_language_replace_the_kept_one() -> None:
    kept = factories.make_customer("Мария", email="maria@shop.test")
    customer_language_set(customer=kept, language="ru", source=CHANNEL)
    other = factories.make_customer("Мария", phone="+79160000001")
    customer_language_set(customer=other, language="en", source=HINT)

    customer_merge(source=other, target=kept)

    assert _stored(kept) == ("ru", CHANNEL)


# --- the admin form ------------------------------------------------------------------------


def _admin_form(customer: Customer, language: str) -> dict[str, str]:
    form = {
        "external_id": "",
        "first_name": customer.first_name,
        "last_name": "",
        "language": language,
        "birthday": "",
        "notes": "",
    }
    for prefix in ("identities", "tags", "promotions"):
        form.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    return form


def test_the_admin_form_refuses_a_language_that_is_not_one(client, super_admin: User) -> None:
    customer = factories.make_customer("Мария")
    customer_language_set(customer=customer, language="en", source=CHANNEL)
    client.force_login(super_admin)
    url = reverse("admin:customers_customer_change", args=[customer.pk])

    refused = client.post(url, _admin_form(customer, "klingon!"))

    assert refused.status_code == 200
    assert refused.context["adminform"].form.errors["language"]
    assert _stored(customer) == ("en", CHANNEL)

    accepted = client.post(url, _admin_form(customer, "ru-RU"))

    assert accepted.status_code == 302, accepted.context["adminform"].form.errors
    assert _stored(customer) == ("ru", EXPLICIT)
