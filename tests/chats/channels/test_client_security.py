"""The client API's trust boundaries: a visitor token cannot reach or extend a customer who
signed in, identify input is checked (400, never 500), files are served only to who may see
them and never as active content, and the client socket authenticates with its first message
(no token in URLs)."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings

from accounts.models import Team
from chats.channels.client.delivery import client_group, client_groups
from chats.models import Conversation, Inbox, Message
from chats.services import messages as message_services
from customers.identities import customer_merge
from customers.models import Customer, CustomerMerge, Identity
from tests import factories
from tests.chats.channels.conftest import committed
from tests.chats.channels.test_client_api import SITE, api, client_for, identify, send, visitor

pytestmark = pytest.mark.django_db


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


# --- 1: a visitor token cannot attach identities to a signed-in customer ---------------------


def test_an_old_visitor_token_cannot_read_or_extend_the_customer_who_signed_in(
    widget: Inbox,
) -> None:
    victim = factories.make_customer("Ирина", email="irina@example.com")
    token = visitor(widget)  # left behind on a shared computer
    send(widget, token, "v-1", "Мой заказ 17")
    signed_in = identify(widget, token, email="irina@example.com")
    assert signed_in.json()["customer_id"] == victim.pk

    # Someone else, with the old token: no history, no identify through it.
    assert client_for(token).get(api(widget, "messages/")).status_code == 401
    attack = identify(widget, token, user_id="mallory")
    assert attack.status_code == 401
    assert not Identity.objects.filter(kind="app", value="mallory").exists()
    assert not Identity.objects.filter(customer=victim, kind="app").exists()


def test_replies_no_longer_ring_the_claimed_visitor_socket(widget: Inbox, operator) -> None:
    token = visitor(widget)
    send(widget, token, "v-1", "Привет")
    visitor_id = Identity.objects.get(kind="widget").value.split(":", 1)[1]
    customer_id = identify(widget, token, email="p@example.com").json()["customer_id"]

    conversation = Conversation.objects.get()
    with committed():
        reply = message_services.message_reply(
            conversation=conversation, author=operator, body="Здравствуйте"
        )

    assert client_groups(reply) == [client_group(widget.pk, f"c{customer_id}")]
    assert client_group(widget.pk, f"v{visitor_id}") not in client_groups(reply)


def test_a_visitor_who_became_a_known_customer_identifies_without_linking(widget: Inbox) -> None:
    known = factories.make_customer("Павел", email="pavel@example.com")
    token = visitor(widget)
    send(widget, token, "v-1", "Вопрос")
    anonymous = Message.objects.get().conversation.customer
    customer_merge(source=anonymous, target=known)  # an admin joined them

    response = identify(widget, token, user_id="someone-else")

    assert response.status_code == 200
    other = Customer.objects.get(pk=response.json()["customer_id"])
    assert other.pk != known.pk
    assert not known.identities.filter(kind="app").exists()
    assert CustomerMerge.objects.count() == 1  # only the admin's


# --- 7: identify input --------------------------------------------------------------------


@pytest.mark.parametrize("signature", ["é" * 64, "not-hex!", "zz" * 32])
def test_a_non_hex_signature_is_a_clear_400(app_inbox: Inbox, signature: str) -> None:
    response = identify(app_inbox, signature=signature, user_id="u-1")

    assert response.status_code == 400
    assert "hex" in response.json()["detail"]
    assert Customer.objects.count() == 0


@pytest.mark.parametrize("value", ["u-1\nemail=boss@example.com", "u=1", "u-1\rx"])
def test_signed_values_with_line_breaks_or_equals_are_refused(app_inbox: Inbox, value) -> None:
    response = identify(app_inbox, user_id=value)

    assert response.status_code == 400
    assert "line break" in response.json()["detail"]
    assert Customer.objects.count() == 0


# --- 6: attachments are served through an access check, never as active content ------------


def _upload(inbox: Inbox, token: str, upload: SimpleUploadedFile, client_id: str = "f"):
    return client_for(token, origin=None).post(
        api(inbox, "messages/"), {"client_id": client_id, "file": upload}, format="multipart"
    )


def test_a_customer_opens_their_file_with_the_link_the_api_gave(app_inbox: Inbox) -> None:
    token = identify(app_inbox, user_id="u-1").json()["token"]
    photo = SimpleUploadedFile("чек.png", b"\x89PNG data", "image/png")
    response = _upload(app_inbox, token, photo)
    [attachment] = response.json()["message"]["attachments"]

    opened = Client().get(attachment["url"])

    assert opened.status_code == 200
    assert b"".join(opened.streaming_content) == b"\x89PNG data"
    assert opened["Content-Type"] == "image/png"
    assert opened["X-Content-Type-Options"] == "nosniff"
    # Without the grant, or with another message's grant: nothing.
    bare = attachment["url"].split("?", 1)[0]
    assert Client().get(bare).status_code == 404


def test_an_operator_opens_files_only_in_conversations_they_may_see(
    app_inbox: Inbox, operator, outsider
) -> None:
    token = identify(app_inbox, user_id="u-1").json()["token"]
    _upload(app_inbox, token, SimpleUploadedFile("notes.txt", b"hello", content_type="text/plain"))
    message = Message.objects.get()
    url = f"/attachments/{message.pk}/0/"

    mine, theirs = Client(), Client()
    mine.force_login(operator)
    theirs.force_login(outsider)
    opened = mine.get(url)

    assert opened.status_code == 200
    assert opened["Content-Disposition"].startswith("attachment")
    assert opened["X-Content-Type-Options"] == "nosniff"
    assert theirs.get(url).status_code == 404
    # The thread links to the view, not to an unrouted /media/ path.
    thread = mine.get(f"/inbox/c/{message.conversation_id}/")
    assert url in thread.content.decode()


def test_an_html_file_declared_as_text_is_stored_as_text(app_inbox: Inbox) -> None:
    token = identify(app_inbox, user_id="u-1").json()["token"]
    page = SimpleUploadedFile("x.html", b"<script>alert(1)</script>", content_type="text/plain")

    assert _upload(app_inbox, token, page).status_code == 201

    [attachment] = Message.objects.get().attachments
    assert attachment["path"].endswith(".txt")


def test_a_file_whose_content_is_not_its_declared_image_type_is_refused(app_inbox) -> None:
    token = identify(app_inbox, user_id="u-1").json()["token"]
    fake = SimpleUploadedFile("cat.png", b"<svg onload=alert(1)>", content_type="image/png")

    response = _upload(app_inbox, token, fake)

    assert response.status_code == 400
    assert "does not match" in response.json()["detail"]
    assert Message.objects.count() == 0


# --- 5: the client socket authenticates with its first message ------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_client_socket_authenticates_with_a_first_message(support: Team, operator) -> None:
    from smartdesk.asgi import application

    inbox = factories.make_inbox(name="Live app 2", kind=Inbox.Kind.MOBILE, team=support)
    token = identify(inbox, user_id="me").json()["token"]
    send(inbox, token, "a", "Вопрос", origin=None)
    conversation = Conversation.objects.get()

    async def scenario() -> None:
        from channels.db import database_sync_to_async

        refused = WebsocketCommunicator(application, f"/ws/client/{inbox.key}/")
        assert (await refused.connect())[0]
        await refused.send_json_to({"type": "auth", "token": "forged"})
        assert (await refused.receive_output(timeout=5))["type"] == "websocket.close"

        socket = WebsocketCommunicator(application, f"/ws/client/{inbox.key}/")
        assert (await socket.connect())[0]
        await socket.send_json_to({"type": "auth", "token": token})
        assert (await socket.receive_json_from(timeout=5)) == {"type": "ready"}
        reply = database_sync_to_async(message_services.message_reply)
        await reply(conversation=conversation, author=operator, body="Ответ")
        event = await socket.receive_json_from(timeout=5)
        assert event["message"]["text"] == "Ответ"
        await socket.disconnect()

    async_to_sync(scenario)()


# --- 10: rate limits behind a trusted proxy -------------------------------------------------


@override_settings(CLIENT_RATE_SESSIONS_PER_HOUR=1, TRUSTED_PROXY_COUNT=1)
def test_behind_a_trusted_proxy_sessions_are_limited_per_forwarded_address(widget) -> None:
    def start(forwarded: str) -> int:
        return (
            client_for().post(api(widget, "session/"), HTTP_X_FORWARDED_FOR=forwarded).status_code
        )

    # Every request comes from the proxy's REMOTE_ADDR; the visitors differ.
    assert start("203.0.113.1") == 201
    assert start("203.0.113.2") == 201
    assert start("203.0.113.1") == 429
    # A spoofed entry in front of the proxy's own does not buy a fresh limit.
    assert start("198.51.100.9, 203.0.113.1") == 429
