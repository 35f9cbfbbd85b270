"""Telegram out: an operator's reply delivered by the task against a fake Bot API server on
localhost — flood control waited out, a blocked bot marked, migrations followed, every call
recorded — and the operator sees the outcome live (the events) and in the thread."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client, override_settings

from chats.models import Conversation, DeliveryAttempt, Inbox, Message, TelegramChat
from chats.services import messages as message_services
from customers.models import Identity
from smartdesk.core.models import LiveEvent
from tests.chats.channels.conftest import CUSTOMER_TG, committed, update, webhook

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(bot_api, telegram_inbox: Inbox, operator) -> Conversation:
    webhook(Client(), telegram_inbox, update(text="Где мой заказ?"))
    return Conversation.objects.get()


def reply(conversation: Conversation, operator, text: str = "Уже едет!") -> Message:
    with committed():
        message = message_services.message_reply(
            conversation=conversation, author=operator, body=text
        )
    message.refresh_from_db()
    return message


def delivery_events(message: Message) -> list[str]:
    return [
        e.payload["delivery_status"]
        for e in LiveEvent.objects.filter(type="message.updated").order_by("pk")
        if e.payload["message_id"] == message.pk
    ]


def test_a_reply_is_sent_with_sendmessage_and_marked_sent(bot_api, conversation, operator) -> None:
    message = reply(conversation, operator)

    [call] = bot_api.called("sendMessage")
    assert call.params == {"chat_id": CUSTOMER_TG["id"], "text": "Уже едет!"}
    assert message.delivery_status == Message.Delivery.SENT
    assert message.external_id == f"{CUSTOMER_TG['id']}:{bot_api.next_message_id}"
    assert DeliveryAttempt.objects.get(message=message).ok is True
    assert delivery_events(message) == ["sent"]


@override_settings(TELEGRAM_INLINE_RETRY_SECONDS=5)
def test_a_429_with_retry_after_is_waited_out_then_sent(bot_api, conversation, operator) -> None:
    bot_api.script(
        "sendMessage",
        429,
        {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 1",
            "parameters": {"retry_after": 1},
        },
    )

    message = reply(conversation, operator)

    first, second = bot_api.called("sendMessage")
    assert second.at - first.at >= 1.0  # the pause Telegram asked for, measured by the server
    assert message.delivery_status == Message.Delivery.SENT
    attempts = list(
        DeliveryAttempt.objects.filter(message=message).values_list("status_code", "ok")
    )
    assert attempts == [(429, False), (200, True)]


@override_settings(TELEGRAM_INLINE_RETRY_SECONDS=0)
def test_a_long_retry_after_goes_back_to_the_queue_and_the_operator_sees_why(
    bot_api, conversation, operator
) -> None:
    for _ in range(2):
        bot_api.script(
            "sendMessage",
            429,
            {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 30",
                "parameters": {"retry_after": 30},
            },
        )

    message = reply(conversation, operator)

    # Eager Celery runs the retries at once; a worker would wait the 30 s countdown.
    assert len(bot_api.called("sendMessage")) == 3
    assert message.delivery_status == Message.Delivery.SENT
    assert delivery_events(message) == ["queued", "queued", "sent"]


def test_a_403_fails_the_message_marks_the_customer_unreachable_and_says_so_live(
    bot_api, conversation, operator, admin_user
) -> None:
    bot_api.script(
        "sendMessage",
        403,
        {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"},
    )

    message = reply(conversation, operator)

    assert message.delivery_status == Message.Delivery.FAILED
    assert "blocked the bot" in message.delivery_error
    assert Identity.objects.get(kind="telegram").unreachable_at is not None
    assert delivery_events(message) == ["failed"]
    system = Message.objects.get(kind=Message.Kind.SYSTEM)
    assert LiveEvent.objects.filter(type="message.created", payload__message_id=system.pk).exists()
    assert len(bot_api.called("sendMessage")) == 1  # never retried
    client = Client()
    client.force_login(admin_user)
    html = client.get(f"/inbox/c/{conversation.pk}/thread/").content.decode()
    assert "Not delivered: The customer blocked the bot" in html


def test_a_400_fails_at_once_with_telegrams_reason(bot_api, conversation, operator) -> None:
    bot_api.script(
        "sendMessage",
        400,
        {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"},
    )

    message = reply(conversation, operator)

    assert message.delivery_status == Message.Delivery.FAILED
    assert "chat not found" in message.delivery_error
    assert len(bot_api.called("sendMessage")) == 1


def test_a_migrated_chat_is_followed_and_remembered(bot_api, conversation, operator) -> None:
    bot_api.script(
        "sendMessage",
        400,
        {
            "ok": False,
            "error_code": 400,
            "description": "Bad Request: group chat was upgraded",
            "parameters": {"migrate_to_chat_id": -1001234567890},
        },
    )

    message = reply(conversation, operator)

    _first, second = bot_api.called("sendMessage")
    assert second.params["chat_id"] == -1001234567890
    assert message.delivery_status == Message.Delivery.SENT
    assert TelegramChat.objects.get().chat_id == -1001234567890


def test_a_5xx_is_retried_with_backoff_until_it_goes_through(
    bot_api, conversation, operator
) -> None:
    bot_api.script(
        "sendMessage", 502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}
    )

    message = reply(conversation, operator)

    assert len(bot_api.called("sendMessage")) == 2
    assert message.delivery_status == Message.Delivery.SENT


def test_spent_retries_fail_the_message_visibly(bot_api, conversation, operator) -> None:
    from chats.services.messages import DELIVERY_MAX_TRIES

    for _ in range(DELIVERY_MAX_TRIES):
        bot_api.script("sendMessage", 500, {"ok": False, "error_code": 500, "description": "oops"})

    message = reply(conversation, operator)

    assert message.delivery_status == Message.Delivery.FAILED
    assert "Gave up" in message.delivery_error
    assert DeliveryAttempt.objects.filter(message=message).count() == DELIVERY_MAX_TRIES


def test_a_reply_with_a_stored_file_is_uploaded_with_sendphoto(
    bot_api, conversation, operator
) -> None:
    from chats.channels.attachments import attachment_store

    photo = attachment_store(name="map.png", content=b"\x89PNG...", content_type="image/png")
    with committed():
        message = message_services.message_reply(
            conversation=conversation, author=operator, body="Вот схема", attachments=[photo]
        )

    [call] = bot_api.called("sendPhoto")
    assert call.files == {"photo": b"\x89PNG..."}
    assert call.params["caption"] == "Вот схема"
    assert bot_api.called("sendMessage") == []
    message.refresh_from_db()
    assert message.delivery_status == Message.Delivery.SENT


def test_the_command_registers_the_webhook_with_secret_and_allowed_updates(
    bot_api, telegram_inbox
) -> None:
    out = StringIO()

    call_command("telegram_set_webhook", "--base-url", "https://desk.example.com", stdout=out)

    [call] = bot_api.called("setWebhook")
    assert (
        call.params["url"]
        == f"https://desk.example.com/integrations/telegram/{telegram_inbox.pk}/webhook"
    )
    assert call.params["secret_token"] == telegram_inbox.secret
    assert set(call.params["allowed_updates"]) == {
        "message",
        "edited_message",
        "callback_query",
        "my_chat_member",
    }
    assert "https://desk.example.com" in out.getvalue()


@override_settings(PUBLIC_BASE_URL="https://desk.example.com")
def test_the_admin_action_registers_the_webhook_and_never_shows_the_token(
    bot_api, telegram_inbox, super_admin
) -> None:
    client = Client()
    client.force_login(super_admin)

    page = client.get(f"/admin/chats/inbox/{telegram_inbox.pk}/change/").content.decode()
    response = client.post(
        "/admin/chats/inbox/",
        {"action": "register_telegram_webhook", "_selected_action": [telegram_inbox.pk]},
        follow=True,
    )

    assert telegram_inbox.bot_token not in page
    assert telegram_inbox.secret not in page
    assert "…" + telegram_inbox.bot_token[-4:] in page
    assert len(bot_api.called("setWebhook")) == 1
    assert "Telegram now posts updates to" in response.content.decode()


@override_settings(PUBLIC_BASE_URL="https://desk.example.com")
def test_rotating_a_telegram_secret_registers_the_webhook_with_the_new_one(
    bot_api, telegram_inbox
) -> None:
    from chats.services.inboxes import inbox_rotate_secret

    old = telegram_inbox.secret
    new = inbox_rotate_secret(inbox=telegram_inbox, actor=None)

    [call] = bot_api.called("setWebhook")
    assert call.params["secret_token"] == new != old
    telegram_inbox.refresh_from_db()
    assert telegram_inbox.secret == new


@override_settings(PUBLIC_BASE_URL="https://desk.example.com")
def test_when_telegram_refuses_the_new_webhook_the_old_secret_stays(
    bot_api, telegram_inbox
) -> None:
    from django.core.exceptions import ValidationError
    from django.db import transaction

    from chats.services.inboxes import inbox_rotate_secret

    old = telegram_inbox.secret
    bot_api.script(
        "setWebhook", 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
    )

    with pytest.raises(ValidationError, match="The secret was not changed"), transaction.atomic():
        inbox_rotate_secret(inbox=telegram_inbox, actor=None)

    telegram_inbox.refresh_from_db()
    assert telegram_inbox.secret == old
