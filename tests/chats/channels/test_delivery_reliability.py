"""Nothing is lost, nothing is sent twice, nothing waits silently: Telegram updates whose
processing fails are kept and retried by the sweep (the last try stores the message with its
failed files), a reply that hits an unexpected error is marked failed, a reply whose task
was lost is delivered by the sweep, a multi-part reply resumes where it stopped, and the bot token
stays out of logs and stored errors. Against the fake Bot API on localhost."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.test import Client, override_settings
from django.utils import timezone

from chats.channels.attachments import attachment_store
from chats.channels.tasks import (
    PROCESS_MAX_RETRIES,
    sweep_stuck_deliveries,
    sweep_telegram_updates,
)
from chats.models import Conversation, DeliveryAttempt, Inbox, Message, TelegramUpdate
from chats.services import messages as message_services
from smartdesk.core.models import LiveEvent
from tests.chats.channels.conftest import BOT_TOKEN, committed, update, webhook

pytestmark = pytest.mark.django_db

PHOTO = [{"file_id": "ph", "file_unique_id": "u", "width": 10, "height": 10}]


@pytest.fixture
def conversation(bot_api, telegram_inbox: Inbox) -> Conversation:
    webhook(Client(), telegram_inbox, update(text="Где мой заказ?"))
    return Conversation.objects.get()


def _bad_gateway(bot_api, method: str, times: int) -> None:
    for _ in range(times):
        bot_api.script(method, 502, {"ok": False, "error_code": 502, "description": "Bad Gateway"})


# --- 2: a Telegram message is never lost ----------------------------------------------------


def test_when_getfile_keeps_failing_the_last_try_stores_the_message_with_the_file_failed(
    bot_api, telegram_inbox
) -> None:
    _bad_gateway(bot_api, "getFile", PROCESS_MAX_RETRIES + 1)

    response = webhook(Client(), telegram_inbox, update(photo=PHOTO, caption="Сломано"))

    assert response.status_code == 200
    message = Message.objects.get()
    assert message.body == "Сломано"
    [attachment] = message.attachments
    assert "path" not in attachment
    assert "Bad Gateway" in attachment["error"]
    assert TelegramUpdate.objects.get().processed_at is not None


def test_an_update_whose_processing_crashes_is_kept_and_the_sweep_processes_it(
    bot_api, telegram_inbox, tmp_path
) -> None:
    bot_api.files["files/ph"] = b"\xff\xd8\xff photo"
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")

    # The storage is broken (a real OSError, not a Retry): the webhook still answers 200 and
    # the stored update says why it waits.
    broken = {
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(not_a_folder / "media")},
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(STORAGES=broken):
        response = webhook(Client(), telegram_inbox, update(photo=PHOTO))

    assert response.status_code == 200
    row = TelegramUpdate.objects.get()
    assert row.processed_at is None
    assert "Error" in row.error
    assert Message.objects.count() == 0
    # Telegram redelivering it changes nothing: the update is ours already.
    assert webhook(Client(), telegram_inbox, row.payload).json()["duplicate"] is True

    TelegramUpdate.objects.filter(pk=row.pk).update(
        received_at=timezone.now() - timedelta(minutes=30)
    )
    with committed():
        assert sweep_telegram_updates() == 1

    row.refresh_from_db()
    assert row.processed_at is not None
    [attachment] = Message.objects.get().attachments
    assert "path" in attachment


def test_the_sweep_leaves_fresh_and_processed_updates_alone(bot_api, telegram_inbox) -> None:
    from datetime import timedelta

    from django.utils import timezone

    webhook(Client(), telegram_inbox, update(text="Привет"))  # processed, now made old
    TelegramUpdate.objects.filter(processed_at__isnull=False).update(
        received_at=timezone.now() - timedelta(minutes=30)
    )
    TelegramUpdate.objects.create(inbox=telegram_inbox, update_id=1, payload=update(text="x"))
    messages = Message.objects.count()

    assert sweep_telegram_updates() == 0  # the fresh one waits, the processed one is done
    assert Message.objects.count() == messages


# --- 3: a reply is never left "queued" without a word ---------------------------------------


def test_an_unexpected_error_in_delivery_fails_the_reply_visibly(
    bot_api, conversation, operator
) -> None:
    photo = attachment_store(name="map.png", content=b"\x89PNG...", content_type="image/png")
    default_storage.delete(photo["path"])  # the file is gone from storage

    with committed():
        message = message_services.message_reply(
            conversation=conversation, author=operator, body="Вот схема", attachments=[photo]
        )

    message.refresh_from_db()
    assert message.delivery_status == Message.Delivery.FAILED
    assert "FileNotFoundError" in message.delivery_error
    events = LiveEvent.objects.filter(type="message.updated").order_by("pk")
    assert [e.payload["delivery_status"] for e in events] == ["failed"]


def test_a_reply_whose_task_was_lost_is_delivered_by_the_sweep_and_a_fresh_one_waits(
    bot_api, conversation, operator
) -> None:
    # Queued, but its task never ran (lost with a worker): no on-commit callbacks here.
    message = message_services.message_reply(
        conversation=conversation, author=operator, body="Ответ"
    )
    fresh = message_services.message_reply(conversation=conversation, author=operator, body="2")
    Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(hours=3))

    with committed():
        assert sweep_stuck_deliveries() == 1

    message.refresh_from_db()
    fresh.refresh_from_db()
    assert message.delivery_status == Message.Delivery.SENT
    assert [c.params["text"] for c in bot_api.called("sendMessage")] == ["Ответ"]
    assert fresh.delivery_status == Message.Delivery.QUEUED  # its own task is still due


# --- 4: a multi-part reply resumes where it stopped -----------------------------------------


def test_a_long_text_with_a_photo_is_not_sent_twice_after_the_photo_fails_once(
    bot_api, conversation, operator
) -> None:
    photo = attachment_store(name="map.png", content=b"\x89PNG...", content_type="image/png")
    _bad_gateway(bot_api, "sendPhoto", 1)
    text = "Подробно. " * 150  # over the 1024-character caption limit

    with committed():
        message = message_services.message_reply(
            conversation=conversation, author=operator, body=text, attachments=[photo]
        )

    assert len(bot_api.called("sendMessage")) == 1
    assert len(bot_api.called("sendPhoto")) == 2
    message.refresh_from_db()
    assert message.delivery_status == Message.Delivery.SENT
    attempts = list(
        DeliveryAttempt.objects.filter(message=message).values_list("method", "part", "ok")
    )
    assert attempts == [
        ("sendMessage", 0, True),
        ("sendPhoto", 1, False),
        ("sendPhoto", 1, True),
    ]


# --- 5: the bot token stays out of logs and stored errors -----------------------------------


def test_the_bot_token_is_not_logged_by_httpx(bot_api, conversation, operator, caplog) -> None:
    with caplog.at_level(logging.DEBUG), committed():
        message_services.message_reply(conversation=conversation, author=operator, body="Hi")

    assert bot_api.called("sendMessage")
    assert BOT_TOKEN not in caplog.text


def test_the_bot_token_is_redacted_from_stored_errors(bot_api, conversation, operator) -> None:
    bot_api.script(
        "sendMessage",
        400,
        {
            "ok": False,
            "error_code": 400,
            "description": f"Bad Request: see https://x.test/bot{BOT_TOKEN}/sendMessage",
        },
    )

    with committed():
        message = message_services.message_reply(
            conversation=conversation, author=operator, body="Hi"
        )

    message.refresh_from_db()
    attempt = DeliveryAttempt.objects.get(message=message)
    assert BOT_TOKEN not in attempt.error
    assert "/bot<token>/" in attempt.error
    assert BOT_TOKEN not in message.delivery_error


# --- 8: a callback query is answered first; a failing receiver changes nothing --------------


def test_a_callback_is_answered_before_receivers_and_a_failing_receiver_is_contained(
    bot_api, telegram_inbox
) -> None:
    from chats.channels.telegram.ingest import telegram_callback

    answered_before: list[int] = []

    def csat(**kwargs) -> None:
        answered_before.append(len(bot_api.called("answerCallbackQuery")))
        raise RuntimeError("CSAT hook broke")

    payload = {
        "update_id": 992,
        "callback_query": {
            "id": "cb-1",
            "from": {"id": 7001, "is_bot": False, "first_name": "Ольга"},
            "chat_instance": "-1",
            "data": "csat:5",
        },
    }
    telegram_callback.connect(csat, weak=False)
    try:
        response = webhook(Client(), telegram_inbox, payload)
    finally:
        telegram_callback.disconnect(csat)

    assert response.status_code == 200
    assert answered_before == [1]
    assert TelegramUpdate.objects.get().processed_at is not None
