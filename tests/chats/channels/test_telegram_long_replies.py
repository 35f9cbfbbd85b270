"""A reply longer than Telegram takes in one message (4,096, counted in UTF-16 code units) is
split on paragraph, then sentence, then word boundaries, sent in order, each part recorded;
a retry after a partial failure sends only the parts not yet sent. Against the fake Bot API
on localhost."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from chats.channels.telegram.delivery import TEXT_LIMIT, split_text, utf16_len
from chats.models import Conversation, DeliveryAttempt, Inbox, Message
from chats.services import messages as message_services
from tests.chats.channels.conftest import CUSTOMER_TG, committed, update, webhook

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(bot_api, telegram_inbox: Inbox) -> Conversation:
    webhook(Client(), telegram_inbox, update(text="Расскажите подробно"))
    return Conversation.objects.get()


def reply(conversation: Conversation, operator, text: str) -> Message:
    with committed():
        message = message_services.message_reply(
            conversation=conversation, author=operator, body=text
        )
    message.refresh_from_db()
    return message


def _words(text: str) -> list[str]:
    return text.split()


def _paragraph(n: int, words: int = 60) -> str:
    sentence = " ".join(f"слово{n}-{i}" for i in range(12)) + "."
    return " ".join([sentence] * (words // 12))


def test_a_long_reply_goes_out_in_parts_cut_between_paragraphs_in_order(
    bot_api, conversation, operator
) -> None:
    paragraphs = [_paragraph(n) for n in range(16)]  # ~9,000 characters
    text = "\n\n".join(paragraphs)
    assert TEXT_LIMIT * 2 < len(text) <= message_services.MAX_BODY

    message = reply(conversation, operator, text)

    calls = bot_api.called("sendMessage")
    sent = [c.params["text"] for c in calls]
    assert len(sent) == 3
    assert all(c.params["chat_id"] == CUSTOMER_TG["id"] for c in calls)
    assert all(utf16_len(part) <= TEXT_LIMIT for part in sent)
    # Every cut fell between two paragraphs, and nothing was lost or reordered.
    assert [p for part in sent for p in part.split("\n\n")] == paragraphs
    assert message.delivery_status == Message.Delivery.SENT
    attempts = list(DeliveryAttempt.objects.filter(message=message).values_list("part", "ok"))
    assert attempts == [(0, True), (1, True), (2, True)]
    assert message.external_id == f"{CUSTOMER_TG['id']}:{bot_api.next_message_id}"


def test_a_retry_after_a_failed_part_sends_only_the_parts_not_yet_sent(
    bot_api, conversation, operator
) -> None:
    text = "\n\n".join(_paragraph(n) for n in range(16))
    bot_api.script(
        "sendMessage",
        200,
        {"ok": True, "result": {"message_id": 1, "chat": {"id": 7001}, "date": 0}},
    )
    bot_api.script(
        "sendMessage", 502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}
    )

    message = reply(conversation, operator, text)

    sent = [c.params["text"] for c in bot_api.called("sendMessage")]
    parts = split_text(text)
    # part 0 once; part 1 failed, then went out on the retry with part 2 — never a part twice
    assert sent == [parts[0], parts[1], parts[1], parts[2]]
    assert message.delivery_status == Message.Delivery.SENT
    attempts = list(DeliveryAttempt.objects.filter(message=message).values_list("part", "ok"))
    assert attempts == [(0, True), (1, False), (1, True), (2, True)]
    assert message.delivery_tries == 2


def test_without_paragraphs_the_cut_falls_after_a_sentence() -> None:
    sentence = "Это одно длинное предложение про заказ номер сорок два и его доставку!"
    text = " ".join([sentence] * 130)  # ~9,300 characters, no line breaks

    parts = split_text(text)

    assert len(parts) == 3
    assert all(utf16_len(part) <= TEXT_LIMIT for part in parts)
    assert all(part.endswith("!") and part.startswith("Это") for part in parts)
    assert _words(" ".join(parts)) == _words(text)


def test_without_sentences_the_cut_falls_between_words() -> None:
    text = " ".join(f"w{i}" for i in range(3000))  # ~16,000 characters, no punctuation

    parts = split_text(text)

    assert all(utf16_len(part) <= TEXT_LIMIT for part in parts)
    assert _words(" ".join(parts)) == _words(text)  # no word was cut in two
    assert all(re.fullmatch(r"(w\d+ )*w\d+", part) for part in parts)


def test_emoji_count_twice_as_telegram_counts_them() -> None:
    text = " ".join(["🙂🚚"] * 1500)  # 4,499 characters but 7,499 UTF-16 code units

    parts = split_text(text)

    assert len(parts) == 2
    assert all(utf16_len(part) <= TEXT_LIMIT for part in parts)
    assert _words(" ".join(parts)) == _words(text)


def test_only_a_word_longer_than_the_limit_is_cut_inside() -> None:
    word = "а" * 5000
    text = f"Ссылка: {word} конец"

    parts = split_text(text)

    assert parts[0] == "Ссылка:"
    assert "".join(parts[1:-1]) + parts[-1].removesuffix(" конец") == word
    assert all(utf16_len(part) <= TEXT_LIMIT for part in parts)


def test_a_short_reply_is_one_part_unchanged() -> None:
    assert split_text("Уже едет!") == ["Уже едет!"]
    assert split_text("x" * TEXT_LIMIT) == ["x" * TEXT_LIMIT]
