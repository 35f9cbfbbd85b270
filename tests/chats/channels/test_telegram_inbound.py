"""Telegram in: real-format updates through the webhook, against a fake Bot API on localhost
(getFile, file downloads, answerCallbackQuery). Celery runs eagerly in tests, so the task
runs right after the request commits."""

from __future__ import annotations

import threading

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.test import Client, override_settings

from chats.channels.telegram.updates import convert_entities, parse_update
from chats.models import Conversation, Inbox, Message, MessageRevision, TelegramChat, TelegramUpdate
from customers.models import Customer, Identity
from tests import factories
from tests.chats.channels.conftest import CUSTOMER_TG, update, webhook

pytestmark = pytest.mark.django_db

# "👋 Здравствуйте! Заказ №42 не пришёл" — the emoji is 2 UTF-16 units: "Заказ №42" starts at
# UTF-16 offset 17 but at code point 16.
GREETING = "👋 Здравствуйте! Заказ №42 не пришёл"
GREETING_ENTITIES = [
    {"offset": 17, "length": 9, "type": "bold"},
    {"offset": 3, "length": 12, "type": "italic"},
]


def stored() -> tuple[int, int, int]:
    return Message.objects.count(), Customer.objects.count(), TelegramUpdate.objects.count()


def test_entity_offsets_are_converted_from_utf16_code_units() -> None:
    entities = convert_entities(GREETING, GREETING_ENTITIES)

    bold = next(e for e in entities if e["type"] == "bold")
    italic = next(e for e in entities if e["type"] == "italic")
    assert GREETING[bold["offset"] : bold["offset"] + bold["length"]] == "Заказ №42"
    assert GREETING[italic["offset"] : italic["offset"] + italic["length"]] == "Здравствуйте"


def test_a_russian_text_with_entities_creates_customer_conversation_and_message(
    bot_api, telegram_inbox: Inbox
) -> None:
    response = webhook(
        Client(), telegram_inbox, update(text=GREETING, entities=GREETING_ENTITIES, message_id=11)
    )

    assert response.status_code == 200
    message = Message.objects.get()
    assert message.body == GREETING
    assert message.external_id == f"{CUSTOMER_TG['id']}:11"
    bold = next(e for e in message.entities if e["type"] == "bold")
    assert message.body[bold["offset"] : bold["offset"] + bold["length"]] == "Заказ №42"
    customer = message.conversation.customer
    assert (customer.first_name, customer.last_name) == ("Ольга", "Петрова")
    assert customer.identities.get().value == str(CUSTOMER_TG["id"])
    assert message.conversation.inbox == telegram_inbox
    assert message.conversation.team == telegram_inbox.default_team
    assert TelegramChat.objects.get().chat_id == CUSTOMER_TG["id"]
    assert TelegramUpdate.objects.get().processed_at is not None


def test_the_thread_renders_the_formatting_escaped_and_the_channel(
    bot_api, telegram_inbox: Inbox, admin_user
) -> None:
    webhook(
        Client(),
        telegram_inbox,
        update(
            text="<script>x</script> смотрите сайт",
            entities=[{"offset": 28, "length": 4, "type": "text_link", "url": "https://ex.test/"}],
        ),
    )
    conversation = Conversation.objects.get()
    client = Client()
    client.force_login(admin_user)

    html = client.get(f"/inbox/c/{conversation.pk}/thread/").content.decode()

    assert "&lt;script&gt;x&lt;/script&gt;" in html
    assert (
        '<a href="https://ex.test/" rel="noopener noreferrer nofollow" target="_blank">сайт</a>'
        in html
    )
    assert "via Telegram" in html


def test_a_repeated_update_id_changes_nothing(bot_api, telegram_inbox: Inbox) -> None:
    payload = update(text="Привет")
    webhook(Client(), telegram_inbox, payload)
    before = stored()

    again = webhook(Client(), telegram_inbox, payload)

    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    assert stored() == before


@pytest.mark.parametrize("secret", [None, "", "wrong-secret"])
def test_a_wrong_or_missing_secret_gets_403_and_stores_nothing(
    bot_api, telegram_inbox: Inbox, secret
) -> None:
    response = webhook(Client(), telegram_inbox, update(text="Привет"), secret=secret)

    assert response.status_code == 403
    assert stored() == (0, 0, 0)


def test_an_unknown_inbox_answers_like_a_wrong_secret(bot_api, telegram_inbox: Inbox) -> None:
    response = Client().post(
        f"/integrations/telegram/{telegram_inbox.pk + 999}/webhook",
        data="{}",
        content_type="application/json",
        HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN=telegram_inbox.secret,
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[1, 2]",
        '{"message": {"text": "no update id"}}',
        '{"update_id": "7", "message": {}}',
        '{"update_id": 7, "message": {"message_id": 1, "text": "no chat"}}',
        '{"update_id": 7, "callback_query": {"from": {"id": 1}}}',
    ],
)
def test_a_malformed_body_gets_400_and_stores_nothing(bot_api, telegram_inbox: Inbox, body) -> None:
    response = webhook(Client(), telegram_inbox, body)

    assert response.status_code == 400
    assert "Not a Telegram update" in response.json()["detail"]
    assert stored() == (0, 0, 0)


def test_a_photo_is_fetched_with_getfile_and_kept_in_storage(bot_api, telegram_inbox) -> None:
    bot_api.files["files/big-photo"] = b"\xff\xd8 jpeg bytes"
    photo = [
        {"file_id": "small-photo", "file_unique_id": "s", "width": 90, "height": 90},
        {"file_id": "big-photo", "file_unique_id": "b", "width": 1280, "height": 960},
    ]

    webhook(Client(), telegram_inbox, update(photo=photo, caption="Вот так пришло"))

    message = Message.objects.get()
    assert message.body == "Вот так пришло"
    [attachment] = message.attachments
    assert [c.params["file_id"] for c in bot_api.called("getFile")] == ["big-photo"]
    assert attachment["content_type"] == "image/jpeg"
    with default_storage.open(attachment["path"]) as handle:
        assert handle.read() == b"\xff\xd8 jpeg bytes"


def test_document_voice_and_sticker_arrive_as_attachments(bot_api, telegram_inbox) -> None:
    bot_api.files["files/doc"] = b"%PDF-1.4 receipt"
    bot_api.files["files/voice"] = b"OggS voice"
    bot_api.files["files/sticker"] = b"RIFF\x00\x00\x00\x00WEBPVP8 "
    client = Client()

    webhook(
        client,
        telegram_inbox,
        update(
            document={
                "file_id": "doc",
                "file_unique_id": "d",
                "file_name": "чек.pdf",
                "mime_type": "application/pdf",
                "file_size": 3,
            }
        ),
    )
    webhook(
        client,
        telegram_inbox,
        update(
            voice={
                "file_id": "voice",
                "file_unique_id": "v",
                "duration": 3,
                "mime_type": "audio/ogg",
            }
        ),
    )
    webhook(
        client,
        telegram_inbox,
        update(
            sticker={
                "file_id": "sticker",
                "file_unique_id": "s",
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "emoji": "😀",
            }
        ),
    )

    assert all("error" not in m.attachments[0] for m in Message.objects.all())
    kinds = [m.attachments[0]["content_type"] for m in Message.objects.order_by("pk")]
    assert kinds == ["application/pdf", "audio/ogg", "image/webp"]
    assert Message.objects.order_by("pk").first().attachments[0]["name"] == "чек.pdf"
    assert Conversation.objects.count() == 1


@override_settings(ATTACHMENT_MAX_BYTES=10)
def test_a_file_over_the_limit_is_named_with_the_reason_and_not_fetched(
    bot_api, telegram_inbox
) -> None:
    webhook(
        Client(),
        telegram_inbox,
        update(
            document={
                "file_id": "huge",
                "file_unique_id": "h",
                "file_name": "video.pdf",
                "mime_type": "application/pdf",
                "file_size": 5_000_000,
            }
        ),
    )

    [attachment] = Message.objects.get().attachments
    assert "too large" in attachment["error"]
    assert "path" not in attachment
    assert bot_api.called("getFile") == []


def test_an_edit_updates_the_text_and_keeps_the_previous_version(bot_api, telegram_inbox) -> None:
    webhook(Client(), telegram_inbox, update(text="Адрес: Ленина 1", message_id=21))

    response = webhook(
        Client(), telegram_inbox, update("edited_message", text="Адрес: Ленина 10", message_id=21)
    )

    assert response.status_code == 200
    message = Message.objects.get()
    assert message.body == "Адрес: Ленина 10"
    assert message.edited_at is not None
    assert list(MessageRevision.objects.values_list("body", flat=True)) == ["Адрес: Ленина 1"]
    assert message.conversation.last_message_preview == "Адрес: Ленина 10"


def test_a_reply_points_at_the_message_it_answers(bot_api, telegram_inbox) -> None:
    webhook(Client(), telegram_inbox, update(text="Роллы", message_id=31))
    chat = {"id": CUSTOMER_TG["id"], "type": "private"}

    webhook(
        Client(),
        telegram_inbox,
        update(
            text="Без кунжута, пожалуйста",
            message_id=32,
            reply_to_message={"message_id": 31, "chat": chat, "date": 0, "text": "Роллы"},
        ),
    )

    first, second = Message.objects.order_by("pk")
    assert second.reply_to == first


def test_an_album_becomes_one_message_with_every_photo(bot_api, telegram_inbox) -> None:
    for n in (1, 2, 3):
        bot_api.files[f"files/p{n}"] = b"\xff\xd8\xff" + f"photo {n}".encode()

    for n in (1, 2, 3):
        extra = {"caption": "Три фото упаковки"} if n == 2 else {}
        webhook(
            Client(),
            telegram_inbox,
            update(
                media_group_id="album-1",
                photo=[{"file_id": f"p{n}", "file_unique_id": f"u{n}", "width": 10, "height": 10}],
                **extra,
            ),
        )

    message = Message.objects.get()
    assert len(message.attachments) == 3
    assert all("path" in a for a in message.attachments)
    assert message.body == "Три фото упаковки"
    assert message.media_group_id == "album-1"


def test_a_callback_query_is_answered(bot_api, telegram_inbox) -> None:
    payload = {
        "update_id": 991,
        "callback_query": {
            "id": "4382bfdwdsb323b2d9",
            "from": CUSTOMER_TG,
            "chat_instance": "-1",
            "data": "csat:5",
            "message": {
                "message_id": 5,
                "date": 0,
                "chat": {"id": CUSTOMER_TG["id"], "type": "private"},
            },
        },
    }

    response = webhook(Client(), telegram_inbox, payload)

    assert response.status_code == 200
    [answer] = bot_api.called("answerCallbackQuery")
    assert answer.params["callback_query_id"] == "4382bfdwdsb323b2d9"
    assert Message.objects.count() == 0


def _member(status_before: str, status_after: str, update_id: int) -> dict:
    bot = {"id": 42, "is_bot": True, "first_name": "Desk", "username": "desk_bot"}
    return {
        "update_id": update_id,
        "my_chat_member": {
            "chat": {"id": CUSTOMER_TG["id"], "first_name": "Ольга", "type": "private"},
            "from": CUSTOMER_TG,
            "date": 1_760_000_500,
            "old_chat_member": {"user": bot, "status": status_before},
            "new_chat_member": {"user": bot, "status": status_after, "until_date": 0},
        },
    }


def test_blocking_the_bot_marks_the_identity_unreachable_and_tells_the_operator(
    bot_api, telegram_inbox
) -> None:
    webhook(Client(), telegram_inbox, update(text="Спасибо"))

    webhook(Client(), telegram_inbox, _member("member", "kicked", 801))

    identity = Identity.objects.get(kind="telegram")
    assert identity.unreachable_at is not None
    system = Message.objects.get(kind=Message.Kind.SYSTEM)
    assert "blocked the bot" in system.body

    webhook(Client(), telegram_inbox, _member("kicked", "member", 802))

    identity.refresh_from_db()
    assert identity.unreachable_at is None
    assert Message.objects.filter(kind=Message.Kind.SYSTEM).count() == 2


def test_sharing_their_own_contact_joins_the_customer_known_by_that_phone(
    bot_api, telegram_inbox, support_inbox
) -> None:
    # The same person wrote from the website with their phone, in another format.
    known = factories.make_customer("Ольга", phone="8 (916) 123-45-67")
    factories.make_conversation(inbox=support_inbox, customer=known, text="С сайта")
    webhook(Client(), telegram_inbox, update(text="Из телеграма"))

    webhook(
        Client(),
        telegram_inbox,
        update(
            contact={
                "phone_number": "79161234567",
                "first_name": "Ольга",
                "user_id": CUSTOMER_TG["id"],
            }
        ),
    )

    telegram = Identity.objects.get(kind="telegram")
    assert telegram.customer_id == known.pk
    phone = Identity.objects.get(kind="phone")
    assert (phone.value, phone.verified) == ("+79161234567", True)
    assert set(Conversation.objects.values_list("customer_id", flat=True)) == {known.pk}
    assert Message.objects.filter(conversation__inbox=telegram_inbox).count() == 2


def test_a_group_chat_message_is_stored_as_an_update_but_opens_no_conversation(
    bot_api, telegram_inbox
) -> None:
    payload = update(text="hi all")
    payload["message"]["chat"] = {"id": -100123, "type": "supergroup", "title": "Fans"}

    webhook(Client(), telegram_inbox, payload)

    assert Message.objects.count() == 0
    assert TelegramUpdate.objects.get().processed_at is not None


def test_parse_update_reads_an_unknown_update_type_as_other() -> None:
    assert parse_update({"update_id": 1, "poll": {"id": "x"}}).kind == "other"


@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_deliveries_of_the_same_update_store_it_once(bot_api, support) -> None:
    inbox = factories.make_inbox(
        name="Telegram race", kind=Inbox.Kind.TELEGRAM, team=support, bot_token="1:x"
    )
    payload = update(text="Одновременно", message_id=77)
    start = threading.Barrier(10)
    statuses: list[int] = []

    def deliver() -> None:
        try:
            start.wait(10)
            statuses.append(webhook(Client(), inbox, payload).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert statuses == [200] * 10
    assert TelegramUpdate.objects.count() == 1
    assert Message.objects.count() == 1
    assert Conversation.objects.count() == 1
