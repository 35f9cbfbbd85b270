"""Arbitrary JSON at every inbound endpoint: the Telegram webhook, the widget and
the mobile app, the inbound channel API, the back office and the operator API.

Hypothesis builds bodies of every shape — nested, unicode, NUL characters, huge numbers,
wrong types, the endpoints' own field names with wrong values — derandomized and bounded so
the run is the same every time and stays well under a minute. For each request: never a 5xx,
and a 4xx leaves every table an inbound request can write exactly as it was.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client, override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from chats.channels.client.sessions import identify_signature
from chats.models import Conversation, ConversationEvent, Inbox, Message, TelegramUpdate
from customers.auth import integration_client_create
from customers.models import (
    Customer,
    CustomerMerge,
    Identity,
    LoyaltyTransaction,
    Order,
    OrderItem,
)
from tests import factories

pytestmark = pytest.mark.django_db

SITE = "https://shop.example.com"
TABLES = (
    Customer,
    Identity,
    CustomerMerge,
    Conversation,
    Message,
    ConversationEvent,
    TelegramUpdate,
    Order,
    OrderItem,
    LoyaltyTransaction,
)
# The field names the endpoints read: bodies built from them get past "unknown shape" and
# into each serializer's and service's own checks.
FIELDS = (
    "external_id",
    "customer",
    "kind",
    "value",
    "first_name",
    "last_name",
    "text",
    "attachments",
    "url",
    "name",
    "client_id",
    "user_id",
    "email",
    "phone",
    "signature",
    "update_id",
    "message",
    "edited_message",
    "message_id",
    "from",
    "chat",
    "id",
    "date",
    "photo",
    "document",
    "preset",
    "until",
    "wake_on_reply",
    "reason",
    "body",
    "internal",
    "orders",
    "items",
    "placed_at",
    "total",
    "currency",
    "status",
    "points",
    "idempotency_key",
    "phones",
    "emails",
    "allergies",
    "birthday",
    "promotions",
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.text(alphabet=st.sampled_from("\x00a\u202eé😀\ud7ff\n\t"), max_size=8),
    st.sampled_from(["", "0", "-1", "1e309", "2025-02-30", "9999-12-31T23:59:59Z", "x" * 300]),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(st.sampled_from(FIELDS), st.text(max_size=6)), children, max_size=4
        ),
    ),
    max_leaves=12,
)
shaped = st.dictionaries(st.sampled_from(FIELDS), json_values, min_size=1, max_size=8)
texts = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.sampled_from("\x00ab‮😀 "), min_size=1, max_size=12),
)
# Nearly valid bodies with hostile values: they reach the services and the database.
telegram_updates = st.fixed_dictionaries(
    {
        "update_id": st.integers(min_value=-(2**63), max_value=2**63),
        "message": st.fixed_dictionaries(
            {
                "message_id": st.integers(min_value=1, max_value=10**12),
                "from": st.fixed_dictionaries(
                    {"id": st.integers(1, 10**12), "is_bot": st.booleans(), "first_name": texts}
                ),
                "chat": st.fixed_dictionaries(
                    {"id": st.integers(-(10**12), 10**12), "type": st.just("private")}
                ),
                "date": st.integers(min_value=-(2**40), max_value=2**40),
                "text": texts,
            }
        ),
    }
)
inbound_messages = st.fixed_dictionaries(
    {
        "external_id": texts,
        "client_id": texts,
        "customer": st.fixed_dictionaries(
            {"kind": st.sampled_from(["email", "phone", "telegram", "app", "x"]), "value": texts}
        ),
        "text": texts,
        "preset": st.sampled_from(["1h", "custom", "reply", "?"]),
        "until": st.one_of(texts, st.just("9999-12-31T23:59:59Z")),
        "points": st.integers(min_value=-(10**20), max_value=10**20),
        "idempotency_key": texts,
    }
)
bodies = st.one_of(
    shaped,
    json_values,
    telegram_updates,
    inbound_messages,
    st.integers(min_value=2, max_value=20_000).map(lambda n: "[" * n + "]" * n),
    st.binary(max_size=40),
)


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in TABLES}


def encode(body: Any) -> bytes:
    if isinstance(body, bytes):
        return body
    if isinstance(body, str) and body.startswith("["):
        return body.encode()
    return json.dumps(body).encode()


@pytest.fixture
def targets(admin_user, support, support_inbox) -> list[tuple[str, Any, str, str, dict]]:
    widget = factories.make_inbox(
        name="Website", kind=Inbox.Kind.WIDGET, team=support, allowed_origins=SITE + "\n"
    )
    app = factories.make_inbox(name="App", kind=Inbox.Kind.MOBILE, team=support)
    telegram = factories.make_inbox(
        name="Bot", kind=Inbox.Kind.TELEGRAM, team=support, bot_token="1:x"
    )
    conversation = factories.make_conversation(inbox=support_inbox, text="Где мой заказ?")
    customer = factories.make_customer("Olga", email="olga@example.test")

    visitor = APIClient()
    visitor.credentials(HTTP_ORIGIN=SITE)
    token = visitor.post(f"/api/v1/client/{widget.key}/session/").json()["token"]
    visitor.credentials(HTTP_ORIGIN=SITE, HTTP_AUTHORIZATION=f"Bearer {token}")
    app_user = APIClient()
    signed = identify_signature(app.secret, {"user_id": "u-1"})
    app_token = app_user.post(
        f"/api/v1/client/{app.key}/identify/",
        {"user_id": "u-1", "signature": signed},
        format="json",
    ).json()["token"]
    app_user.credentials(HTTP_AUTHORIZATION=f"Bearer {app_token}")
    backoffice = integration_client_create(name="CRM")
    crm = APIClient()
    crm.credentials(HTTP_AUTHORIZATION=f"Bearer {backoffice.token}")
    operator = APIClient()
    operator.force_login(admin_user)

    c = conversation.pk
    return [
        (
            "telegram",
            Client(),
            "post",
            f"/integrations/telegram/{telegram.pk}/webhook",
            {"HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN": telegram.secret},
        ),
        ("widget-identify", APIClient(), "post", f"/api/v1/client/{widget.key}/identify/", {}),
        ("widget-message", visitor, "post", f"/api/v1/client/{widget.key}/messages/", {}),
        ("app-message", app_user, "post", f"/api/v1/client/{app.key}/messages/", {}),
        (
            "inbound",
            APIClient(),
            "post",
            f"/api/v1/inboxes/{support_inbox.key}/messages/",
            {"HTTP_AUTHORIZATION": f"Bearer {support_inbox.secret}"},
        ),
        ("backoffice-customer", crm, "put", "/api/v1/backoffice/customers/c-1/", {}),
        ("backoffice-order", crm, "put", "/api/v1/backoffice/orders/o-1/", {}),
        ("backoffice-bulk", crm, "post", "/api/v1/backoffice/orders/bulk/", {}),
        (
            "backoffice-redeem",
            crm,
            "post",
            f"/api/v1/backoffice/customers/{customer.external_id or 'c-1'}/loyalty/redeem/",
            {},
        ),
        ("operator-send", operator, "post", f"/api/v1/conversations/{c}/messages/", {}),
        ("operator-snooze", operator, "post", f"/api/v1/conversations/{c}/snooze/", {}),
        ("operator-transfer", operator, "post", f"/api/v1/conversations/{c}/transfer/", {}),
    ]


@override_settings(CLIENT_RATE_MESSAGES_PER_MINUTE=10**6, CLIENT_RATE_SESSIONS_PER_HOUR=10**6)
def test_arbitrary_json_never_gives_a_5xx_or_a_partial_write(targets) -> None:
    seen: dict[str, set[int]] = {}

    @settings(
        derandomize=True,
        database=None,
        max_examples=240,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(index=st.integers(min_value=0, max_value=len(targets) - 1), body=bodies)
    def one_request(index: int, body: Any) -> None:
        name, client, method, url, headers = targets[index]
        before = counts()

        response = getattr(client, method)(
            url, encode(body), content_type="application/json", **headers
        )

        seen.setdefault(name, set()).add(response.status_code)
        assert response.status_code < 500, (name, body, response.content[:300])
        if 400 <= response.status_code < 500:
            assert counts() == before, (name, body, response.status_code)
            assert response["Content-Type"].startswith("application/json"), (name, body)

    one_request()

    # every endpoint was reached, and some bodies got past the first check somewhere
    assert set(seen) == {t[0] for t in targets}, seen
