"""`/api/v1/client/<key>/`: the widget's and the mobile app's API — visitor and signed
identities, idempotent messages, attachments with limits, origins, rate limits, the live
socket, and the signed push webhook to the app's backend (a real local receiver)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import override_settings
from rest_framework.test import APIClient

from accounts.models import Team
from chats.channels.client.sessions import identify_signature
from chats.models import Conversation, DeliveryAttempt, Inbox, Message
from chats.services import messages as message_services
from customers.models import Customer, CustomerMerge, Identity
from tests import factories
from tests.chats.channels.conftest import committed
from tests.chats.channels.fakes import PushReceiver

pytestmark = pytest.mark.django_db

SITE = "https://shop.example.com"


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    cache.clear()


@pytest.fixture
def widget(support: Team) -> Inbox:
    return factories.make_inbox(
        name="Website", kind=Inbox.Kind.WIDGET, team=support, allowed_origins=SITE + "\n"
    )


@pytest.fixture
def app_inbox(support: Team) -> Inbox:
    return factories.make_inbox(name="Mobile app", kind=Inbox.Kind.MOBILE, team=support)


def api(inbox: Inbox, path: str) -> str:
    return f"/api/v1/client/{inbox.key}/{path}"


def client_for(token: str | None = None, origin: str | None = SITE) -> APIClient:
    client = APIClient()
    headers = {}
    if token:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    if origin:
        headers["HTTP_ORIGIN"] = origin
    client.credentials(**headers)
    return client


def visitor(inbox: Inbox) -> str:
    response = client_for().post(api(inbox, "session/"))
    assert response.status_code == 201, response.content
    return response.json()["token"]


def identify(inbox: Inbox, token: str | None = None, *, signature: str | None = None, **values):
    body = {**values, "signature": signature or identify_signature(inbox.secret, values)}
    return client_for(token, origin=None).post(api(inbox, "identify/"), body, format="json")


def send(inbox: Inbox, token: str, client_id: str, text: str, origin: str | None = SITE):
    return client_for(token, origin).post(
        api(inbox, "messages/"), {"client_id": client_id, "text": text}, format="json"
    )


def test_a_visitor_writes_and_the_message_opens_a_conversation(widget: Inbox) -> None:
    token = visitor(widget)
    assert Customer.objects.count() == 0  # a page view alone creates nobody

    response = send(widget, token, "c-1", "Здравствуйте, доставка работает?")

    assert response.status_code == 201
    assert response["Access-Control-Allow-Origin"] == SITE
    message = Message.objects.get()
    assert message.conversation.inbox == widget
    assert message.conversation.customer.identities.get().kind == Identity.Kind.WIDGET
    history = client_for(token).get(api(widget, "messages/")).json()
    assert [m["text"] for m in history["messages"]] == ["Здравствуйте, доставка работает?"]


def test_a_repeated_client_id_stores_nothing_new(widget: Inbox) -> None:
    token = visitor(widget)
    send(widget, token, "c-1", "Один раз")

    again = send(widget, token, "c-1", "Один раз")

    assert again.status_code == 200
    assert again.json()["created"] is False
    assert Message.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_posts_of_the_same_client_message_store_it_once(support: Team) -> None:
    inbox = factories.make_inbox(name="App race", kind=Inbox.Kind.MOBILE, team=support)
    token = identify(inbox, user_id="u-77").json()["token"]
    start = threading.Barrier(10)
    statuses: list[int] = []

    def post() -> None:
        try:
            start.wait(10)
            statuses.append(send(inbox, token, "same", "Одновременно", origin=None).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(statuses) == [200] * 9 + [201]
    assert Message.objects.count() == 1
    assert Conversation.objects.count() == 1


def test_an_identify_with_a_wrong_hmac_is_refused_and_stores_nothing(app_inbox: Inbox) -> None:
    response = identify(app_inbox, user_id="u-1", email="a@b.test", signature="00" * 32)

    assert response.status_code == 403
    assert "signature" in response.json()["detail"]
    assert Customer.objects.count() == 0


def test_a_signature_for_other_values_is_refused(app_inbox: Inbox) -> None:
    good = identify_signature(app_inbox.secret, {"user_id": "u-1"})

    response = identify(app_inbox, user_id="u-1", email="someone-else@b.test", signature=good)

    assert response.status_code == 403


def test_an_identified_app_user_joins_the_customer_known_by_their_phone(
    app_inbox: Inbox, support_inbox: Inbox
) -> None:
    known = factories.make_customer("Ольга", phone="+7 916 123-45-67")
    factories.make_conversation(inbox=support_inbox, customer=known)

    response = identify(app_inbox, user_id="u-9", phone="8 916 123 45 67", name="Ольга Петрова")

    assert response.status_code == 200
    assert response.json()["customer_id"] == known.pk
    assert set(known.identities.values_list("kind", "value", "verified")) == {
        ("phone", "+79161234567", True),
        ("app", "u-9", True),
    }


def test_the_visitors_history_follows_them_when_they_identify(widget: Inbox) -> None:
    known = factories.make_customer("Иван", email="ivan@example.com")
    token = visitor(widget)
    send(widget, token, "c-1", "Я ещё не вошёл")
    anonymous = Message.objects.get().conversation.customer

    response = identify(widget, token, email="Ivan@Example.com")

    assert response.json()["customer_id"] == known.pk
    assert Message.objects.get().conversation.customer_id == known.pk
    assert CustomerMerge.objects.get(source=anonymous, target=known).reason == "verified identity"
    # The new token speaks for the identified customer; the old visitor token is retired.
    new_token = response.json()["token"]
    history = client_for(new_token).get(api(widget, "messages/")).json()
    assert [m["text"] for m in history["messages"]] == ["Я ещё не вошёл"]
    assert client_for(token).get(api(widget, "messages/")).status_code == 401


def test_a_website_not_on_the_allow_list_is_refused(widget: Inbox) -> None:
    response = client_for(origin="https://evil.example").post(api(widget, "session/"))

    assert response.status_code == 403
    assert "not allowed" in response.json()["detail"]
    assert "Access-Control-Allow-Origin" not in response


def test_a_cors_preflight_from_an_allowed_site_is_answered(widget: Inbox) -> None:
    response = client_for(origin=SITE).options(api(widget, "messages/"))

    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == SITE
    assert "Authorization" in response["Access-Control-Allow-Headers"]


def test_a_forged_token_is_refused(widget: Inbox, app_inbox: Inbox) -> None:
    token = visitor(widget)

    assert client_for(token + "x").get(api(widget, "messages/")).status_code == 401
    assert client_for(token, origin=None).get(api(app_inbox, "messages/")).status_code == 401
    assert client_for(None).get(api(widget, "messages/")).status_code == 401


@override_settings(CLIENT_RATE_MESSAGES_PER_MINUTE=3)
def test_sending_too_fast_is_rate_limited(widget: Inbox) -> None:
    token = visitor(widget)
    statuses = [send(widget, token, f"c-{n}", f"msg {n}").status_code for n in range(4)]

    assert statuses == [201, 201, 201, 429]
    assert Message.objects.count() == 3


@override_settings(ATTACHMENT_MAX_BYTES=1024)
def test_an_oversized_attachment_is_refused_with_a_clear_error(app_inbox: Inbox) -> None:
    token = identify(app_inbox, user_id="u-1").json()["token"]
    big = SimpleUploadedFile("photo.jpg", b"x" * 2048, content_type="image/jpeg")

    response = client_for(token, origin=None).post(
        api(app_inbox, "messages/"),
        {"client_id": "f1", "text": "", "file": big},
        format="multipart",
    )

    assert response.status_code == 400
    assert "too large" in response.json()["detail"]
    assert Message.objects.count() == 0


def test_a_wrong_type_of_attachment_is_refused(app_inbox: Inbox) -> None:
    token = identify(app_inbox, user_id="u-1").json()["token"]
    exe = SimpleUploadedFile("setup.exe", b"MZ...", content_type="application/x-msdownload")

    response = client_for(token, origin=None).post(
        api(app_inbox, "messages/"), {"client_id": "f2", "file": exe}, format="multipart"
    )

    assert response.status_code == 400
    assert "not accepted" in response.json()["detail"]


def test_an_accepted_attachment_is_stored_and_listed(app_inbox: Inbox) -> None:
    token = identify(app_inbox, user_id="u-1").json()["token"]
    photo = SimpleUploadedFile("чек.png", b"\x89PNG data", content_type="image/png")

    response = client_for(token, origin=None).post(
        api(app_inbox, "messages/"), {"client_id": "f3", "file": photo}, format="multipart"
    )

    assert response.status_code == 201
    [attachment] = response.json()["message"]["attachments"]
    assert attachment["content_type"] == "image/png"
    assert "path" not in attachment  # storage internals stay inside


def test_history_after_an_id_returns_only_newer_messages_and_no_notes(
    app_inbox: Inbox, operator
) -> None:
    token = identify(app_inbox, user_id="u-1").json()["token"]
    first = send(app_inbox, token, "a", "Первое", origin=None).json()["message"]["id"]
    conversation = Conversation.objects.get()
    message_services.message_note(conversation=conversation, author=operator, body="секрет")
    with committed():
        message_services.message_reply(conversation=conversation, author=operator, body="Ответ")

    newer = client_for(token, origin=None).get(api(app_inbox, f"messages/?after={first}")).json()

    assert [(m["from"], m["text"]) for m in newer["messages"]] == [("operator", "Ответ")]
    assert newer["conversation"]["status"] == "open"


def _verify(secret: str, header: str, body: bytes) -> bool:
    parts = dict(item.split("=", 1) for item in header.split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest(), parts["v1"])


@override_settings(PUSH_ALLOW_PRIVATE=True)  # the receiver is on localhost
def test_a_reply_is_pushed_to_the_app_backend_signed_and_retried(
    app_inbox: Inbox, operator
) -> None:
    token = identify(app_inbox, user_id="u-5").json()["token"]
    send(app_inbox, token, "a", "Когда курьер?", origin=None)
    conversation = Conversation.objects.get()

    with PushReceiver(statuses=[500, 503]).running() as receiver:
        Inbox.objects.filter(pk=app_inbox.pk).update(push_url=receiver.url)
        with committed():
            reply = message_services.message_reply(
                conversation=conversation, author=operator, body="Через 10 минут"
            )

    assert len(receiver.requests) == 3
    for request in receiver.requests:
        assert _verify(app_inbox.secret, request.headers["X-Smartdesk-Signature"], request.body)
    body = json.loads(receiver.requests[-1].body)
    assert body["message"]["text"] == "Через 10 минут"
    assert body["customer"]["user_ids"] == ["u-5"]
    attempts = list(
        DeliveryAttempt.objects.filter(message=reply, target="push").values_list(
            "status_code", "ok"
        )
    )
    assert attempts == [(500, False), (503, False), (200, True)]


@override_settings(PUSH_ALLOW_PRIVATE=True)
def test_a_push_refused_with_a_4xx_is_recorded_and_not_retried(app_inbox: Inbox, operator) -> None:
    token = identify(app_inbox, user_id="u-5").json()["token"]
    send(app_inbox, token, "a", "?", origin=None)

    with PushReceiver(statuses=[410]).running() as receiver:
        Inbox.objects.filter(pk=app_inbox.pk).update(push_url=receiver.url)
        with committed():
            message_services.message_reply(
                conversation=Conversation.objects.get(), author=operator, body="!"
            )

    assert len(receiver.requests) == 1
    assert DeliveryAttempt.objects.get(target="push").status_code == 410


@pytest.mark.django_db(transaction=True)
def test_the_client_socket_hears_the_operators_reply_and_nothing_of_others(
    support: Team, operator
) -> None:
    from smartdesk.asgi import application

    inbox = factories.make_inbox(name="Live app", kind=Inbox.Kind.MOBILE, team=support)
    mine = identify(inbox, user_id="me").json()["token"]
    theirs = identify(inbox, user_id="them").json()["token"]
    send(inbox, mine, "a", "Мой вопрос", origin=None)
    send(inbox, theirs, "b", "Чужой вопрос", origin=None)
    my_conversation = Conversation.objects.get(messages__body="Мой вопрос")
    their_conversation = Conversation.objects.get(messages__body="Чужой вопрос")

    async def scenario() -> None:
        from channels.db import database_sync_to_async

        socket = WebsocketCommunicator(application, f"/ws/client/{inbox.key}/?token={mine}")
        connected, _code = await socket.connect()
        assert connected
        reply = database_sync_to_async(message_services.message_reply)
        await reply(conversation=their_conversation, author=operator, body="Не вам")
        await reply(conversation=my_conversation, author=operator, body="Вам ответ")
        event = await socket.receive_json_from(timeout=5)
        assert event["type"] == "message"
        assert event["message"]["text"] == "Вам ответ"
        assert await socket.receive_nothing(timeout=0.3)
        await socket.disconnect()

    async_to_sync(scenario)()


@pytest.mark.django_db(transaction=True)
def test_the_client_socket_refuses_a_bad_token_or_origin(support: Team) -> None:
    from smartdesk.asgi import application

    inbox = factories.make_inbox(
        name="Live site", kind=Inbox.Kind.WIDGET, team=support, allowed_origins=SITE
    )
    token = visitor(inbox)

    async def scenario() -> None:
        for path, origin in (
            (f"/ws/client/{inbox.key}/?token=forged", SITE),
            (f"/ws/client/{inbox.key}/?token={token}", "https://evil.example"),
        ):
            socket = WebsocketCommunicator(
                application, path, headers=[(b"origin", origin.encode())]
            )
            connected, _code = await socket.connect()
            assert not connected
        socket = WebsocketCommunicator(
            application,
            f"/ws/client/{inbox.key}/?token={token}",
            headers=[(b"origin", SITE.encode())],
        )
        connected, _code = await socket.connect()
        assert connected
        await socket.disconnect()

    async_to_sync(scenario)()


def test_a_waiting_customer_sees_their_place_in_the_queue(app_inbox: Inbox) -> None:
    token = identify(app_inbox, user_id="u-q").json()["token"]
    send(app_inbox, token, "a", "Есть кто?", origin=None)

    history = client_for(token, origin=None).get(api(app_inbox, "messages/")).json()

    assert history["conversation"]["queue"]["position"] == 1
    assert "estimated_wait_seconds" in history["conversation"]["queue"]


def test_a_push_to_an_internal_address_is_refused(app_inbox: Inbox, operator) -> None:
    token = identify(app_inbox, user_id="u-7").json()["token"]
    send(app_inbox, token, "a", "Вопрос", origin=None)
    conversation = Conversation.objects.get()

    with PushReceiver().running() as receiver:
        Inbox.objects.filter(pk=app_inbox.pk).update(push_url=receiver.url)
        with committed():
            reply = message_services.message_reply(
                conversation=conversation, author=operator, body="Ответ"
            )

    assert receiver.requests == []
    attempt = DeliveryAttempt.objects.get(message=reply, target="push")
    assert attempt.ok is False
    assert "internal address" in attempt.error
