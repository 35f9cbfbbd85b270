"""POST /api/v1/inboxes/<key>/messages/: the channel API of `api` inboxes, authenticated by
the inbox's own secret and idempotent on the channel's message id."""

from __future__ import annotations

import json
import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from chats.models import Conversation, Inbox, Message
from customers.models import Customer, Identity
from tests import factories

pytestmark = pytest.mark.django_db


def url(inbox: Inbox) -> str:
    return f"/api/v1/inboxes/{inbox.key}/messages/"


def payload(external_id: str = "msg-1", **overrides) -> dict:
    return {
        "external_id": external_id,
        "customer": {
            "kind": "email",
            "value": "Olga@Example.test",
            "first_name": "Olga",
            "last_name": "Petrova",
        },
        "text": "Where is my order?",
        **overrides,
    }


def post(inbox: Inbox, body, *, secret: str | None = None, client: APIClient | None = None):
    client = client or APIClient()
    headers = {} if secret is None else {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(url(inbox), data, content_type="application/json", **headers)


def stored() -> tuple[int, int, int, int]:
    return (
        Customer.objects.count(),
        Identity.objects.count(),
        Conversation.objects.count(),
        Message.objects.count(),
    )


def test_a_new_message_is_stored_and_answered_201(api, operator, support, support_inbox) -> None:
    response = post(support_inbox, payload(), secret=support_inbox.secret)

    assert response.status_code == 201, response.content
    data = response.json()
    message = Message.objects.get(pk=data["message_id"])
    assert data == {
        "message_id": message.pk,
        "conversation_id": message.conversation_id,
        "created": True,
    }
    assert (message.kind, message.body, message.external_id) == (
        "inbound",
        "Where is my order?",
        "msg-1",
    )
    customer = message.conversation.customer
    assert (customer.first_name, customer.last_name) == ("Olga", "Petrova")
    assert customer.identities.get().value == "olga@example.test"
    assert message.conversation.team_id == support.pk
    # It lands in the operators' list at once.
    listed = api(operator).get("/api/v1/conversations/", {"view": "queue"}).json()["results"]
    assert [row["id"] for row in listed] == [message.conversation_id]


def test_a_repeat_of_the_same_external_id_is_200_and_changes_nothing(support_inbox) -> None:
    first = post(support_inbox, payload(), secret=support_inbox.secret).json()
    conversation = Conversation.objects.filter(pk=first["conversation_id"]).values().get()
    counts = stored()

    again = post(support_inbox, payload(text="Where is my order?!"), secret=support_inbox.secret)

    assert again.status_code == 200
    assert again.json() == {**first, "created": False}
    assert stored() == counts
    assert Conversation.objects.filter(pk=first["conversation_id"]).values().get() == conversation
    assert Message.objects.get(pk=first["message_id"]).body == "Where is my order?"


def test_the_next_message_joins_the_same_conversation(support_inbox) -> None:
    first = post(support_inbox, payload("a"), secret=support_inbox.secret).json()
    second = post(support_inbox, payload("b", text="Hello?"), secret=support_inbox.secret)

    assert second.status_code == 201
    assert second.json()["conversation_id"] == first["conversation_id"]
    assert Conversation.objects.get(pk=first["conversation_id"]).unread_count == 2


def test_attachments_alone_make_a_message(support_inbox) -> None:
    files = [
        {
            "name": "receipt.pdf",
            "url": "https://files.example.test/r.pdf",
            "size": 1024,
            "content_type": "application/pdf",
        }
    ]

    response = post(support_inbox, payload(text="", attachments=files), secret=support_inbox.secret)

    assert response.status_code == 201, response.content
    message = Message.objects.get(pk=response.json()["message_id"])
    assert message.attachments == files
    assert message.conversation.last_message_preview == "📎 receipt.pdf"


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer wrong-secret", "Token {secret}", "Basic {secret}", "{secret}"],
)
def test_a_wrong_or_missing_secret_is_a_403_and_stores_nothing(
    support_inbox, authorization
) -> None:
    client = APIClient()
    headers = {}
    if authorization is not None:
        headers["HTTP_AUTHORIZATION"] = authorization.format(secret=support_inbox.secret)

    response = client.post(
        url(support_inbox), json.dumps(payload()), content_type="application/json", **headers
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "Wrong or missing inbox secret."}
    assert stored() == (0, 0, 0, 0)


def test_another_inboxs_secret_does_not_open_this_one(support_inbox, delivery_inbox) -> None:
    response = post(support_inbox, payload(), secret=delivery_inbox.secret)

    assert response.status_code == 403
    assert stored() == (0, 0, 0, 0)


def test_an_inactive_inbox_is_a_403(support_inbox) -> None:
    Inbox.objects.filter(pk=support_inbox.pk).update(is_active=False)

    response = post(support_inbox, payload(), secret=support_inbox.secret)

    assert response.status_code == 403
    assert response.json() == {"detail": "This inbox is not active."}
    assert stored() == (0, 0, 0, 0)


def test_an_unknown_key_or_an_inbox_of_another_kind_is_a_404(support) -> None:
    widget = factories.make_inbox(kind=Inbox.Kind.WIDGET, team=support)

    assert post(Inbox(key="no-such-key"), payload(), secret="x").status_code == 404
    assert post(widget, payload(), secret=widget.secret).status_code == 404
    assert stored() == (0, 0, 0, 0)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"external_id": "m1", "customer": ', "detail"),
        ("[1, 2]", "non_field_errors"),
        (payload(external_id=""), "external_id"),
        ({k: v for k, v in payload().items() if k != "external_id"}, "external_id"),
        ({k: v for k, v in payload().items() if k != "text"}, "text"),
        ({k: v for k, v in payload().items() if k != "customer"}, "customer"),
        (payload(customer={"kind": "fax", "value": "1"}), "customer"),
        (payload(customer={"kind": "phone", "value": "no digits"}), "customer"),
        (payload(customer={"kind": "email"}), "customer"),
        (payload(attachments=[{"name": "x", "url": "javascript:alert(1)"}]), "attachments"),
        (payload(attachments=[{"url": "https://x.test/a"}]), "attachments"),
        (payload(attachments="receipt.pdf"), "attachments"),
        (payload(external_id="x" * 129), "external_id"),
        (payload(text="   "), "detail"),  # the service: the message is empty
        (payload(text="x" * 10_001), "detail"),  # the service: too long
    ],
)
def test_a_malformed_body_is_a_400_naming_the_field_and_stores_nothing(
    support_inbox, body, field
) -> None:
    response = post(support_inbox, body, secret=support_inbox.secret)

    assert response.status_code == 400, response.content
    assert field in response.json()
    assert stored() == (0, 0, 0, 0)


def test_the_channel_api_needs_no_csrf_token_even_beside_a_session(operator, support_inbox) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(operator)

    response = post(support_inbox, payload(), secret=support_inbox.secret, client=client)

    assert response.status_code == 201


def test_the_channel_api_takes_json_only(support_inbox) -> None:
    response = APIClient().post(
        url(support_inbox),
        {"external_id": "m1", "text": "hi"},
        HTTP_AUTHORIZATION=f"Bearer {support_inbox.secret}",
    )

    assert response.status_code == 415
    assert stored() == (0, 0, 0, 0)


@pytest.mark.django_db(transaction=True)
def test_ten_simultaneous_deliveries_of_one_message_store_it_once(support_inbox) -> None:
    threads_count = 10
    start = threading.Barrier(threads_count)
    statuses: list[int] = []
    answers: list[dict] = []
    errors: list[BaseException] = []

    def deliver() -> None:
        try:
            client = APIClient()
            start.wait(timeout=10)
            response = post(
                support_inbox, payload("retry-me"), secret=support_inbox.secret, client=client
            )
            statuses.append(response.status_code)
            answers.append(response.json())
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert not errors
    assert sorted(statuses) == [200] * (threads_count - 1) + [201]
    assert len({(a["message_id"], a["conversation_id"]) for a in answers}) == 1
    assert stored() == (1, 1, 1, 1)
    assert Message.objects.get().external_id == "retry-me"


def test_an_identity_too_long_once_normalised_is_a_400_not_a_500(support_inbox) -> None:
    body = payload(customer={"kind": "phone", "value": "9" * 255})  # "+" makes it 256

    response = post(support_inbox, body, secret=support_inbox.secret)

    assert response.status_code == 400
    assert stored() == (0, 0, 0, 0)
