"""Hand-over cards: facts from the text, the customer's request, the operator's
promise, what is open — in the dialog's language, ≤ 60 words, no number the dialog lacks."""

from __future__ import annotations

import io
import json
import socket

import pytest
from django.core.management import call_command
from django.test import override_settings

from analytics.ai import summary as S
from analytics.models import ConversationSummary
from chats.services.conversations import conversation_close
from chats.services.messages import message_reply
from tests import factories


def test_the_dialog_set_keeps_its_key_facts_far_better_than_the_baseline() -> None:
    dialogs = S.load_dialogs()
    assert len(dialogs) >= 40
    assert {d["lang"] for d in dialogs} == {"ru", "en"}
    result = S.evaluate(dialogs)
    assert result["recall"] >= 0.80, result
    assert result["recall"] > result["baseline_recall"], result
    assert result["violations"] == []


@pytest.mark.parametrize("item", S.load_dialogs(), ids=lambda d: d["id"])
def test_every_card_is_short_in_the_dialogs_language_and_quotes_only_its_numbers(item) -> None:
    card = S.handover_card(item["turns"], label="complaint", topics=["late_delivery"])
    whole = "\n".join(t["text"] for t in item["turns"])
    assert len(card.text.split()) <= S.MAX_WORDS
    assert S.detect_lang(card.text) == item["lang"]
    assert S.invented_codes(card.text, whole) == []


def test_facts_are_found_verbatim() -> None:
    text = (
        "Заказ №48213 на 1 250 ₽ привезли на ул. Ленина, 5, кв. 12 в 19:40 вместо 18:30. "
        "Рейс SU 1402 14 марта, бронь K7Q2ZX, возврат $35 и 10%."
    )
    facts = S.extract_facts(text)
    assert facts.orders == ["48213", "K7Q2ZX"]
    assert facts.amounts == ["1 250 ₽", "$35", "10%"]
    assert facts.addresses == ["ул. Ленина, 5, кв. 12"]
    assert facts.flights == ["SU 1402"]
    assert facts.dates == ["19:40", "18:30", "14 марта"]


def test_the_card_names_the_request_the_promise_and_what_is_open() -> None:
    card = S.handover_card(
        [
            {"role": "customer", "text": "Hello. I need to change my booking H-55821 to May 5."},
            {"role": "operator", "text": "Sure. I'll move it and send the confirmation today."},
            {"role": "customer", "text": "Will the price change?"},
        ],
        label="order",
        topics=["hotel"],
    )
    assert card.lang == "en"
    assert card.text.startswith("Order · hotel.")
    assert card.request == "I need to change my booking H-55821 to May 5."
    assert card.promised == "I'll move it and send the confirmation today."
    assert card.open == "reply to the customer: Will the price change?"
    for fact in ("H-55821", "May 5"):
        assert fact in card.text


def test_a_russian_dialog_gets_a_russian_card() -> None:
    card = S.handover_card(
        [
            {"role": "customer", "text": "Не пришёл заказ 61877, жду с 18:10."},
            {"role": "operator", "text": "Курьер будет в 19:35, начислю 250 баллов."},
        ],
        label="complaint",
    )
    assert card.lang == "ru"
    assert card.text.startswith("Жалоба.")
    assert "Обещано: Курьер будет в 19:35, начислю 250 баллов." in card.text
    assert "Открыто: выполнить обещанное" in card.text


def test_invented_numbers_are_caught() -> None:
    dialog = "Заказ 48213 на 1 250 ₽."
    assert S.invented_codes("Заказ 48213, 1 250 ₽.", dialog) == []
    assert S.invented_codes("Заказ 48214, 1 250 ₽.", dialog) == ["48214"]
    assert S.invented_codes("Бронь AB123.", dialog) == ["AB123"]
    assert S.validate("Заказ 48213.", dialog_text=dialog, lang="en") == "wrong language"
    assert S.validate(" ".join(["слово"] * 61), dialog_text=dialog, lang="ru") == "too long"


def _command(lines: list[str]) -> list[dict]:
    out = io.StringIO()
    call_command("ai_summarize", stdin=io.StringIO("\n".join(lines) + "\n"), stdout=out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_ai_summarize_answers_one_line_per_input_in_order() -> None:
    ru = {"lang": "ru", "turns": [{"role": "customer", "text": "Где заказ 55031?"}]}
    en = {"lang": "en", "turns": [{"role": "customer", "text": "Where is order 77120?"}]}
    out = _command([json.dumps(ru, ensure_ascii=False), "not json", json.dumps(en), "[1]"])
    assert len(out) == 4
    assert "55031" in out[0]["summary"] and S.detect_lang(out[0]["summary"]) == "ru"
    assert out[1] == {"error": "not JSON"}
    assert "77120" in out[2]["summary"] and S.detect_lang(out[2]["summary"]) == "en"
    assert "error" in out[3]


@pytest.fixture
def no_network(monkeypatch):
    """Every outgoing connection refused, as on a machine with the network cut."""

    def refuse(self, *args, **kwargs):
        raise OSError("network is blocked in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@override_settings(AI_LLM_URL="http://llm.example.test/v1", AI_LLM_TIMEOUT_SECONDS=1)
def test_with_the_network_blocked_summaries_are_written_offline(no_network) -> None:
    dialog = [
        {"role": "customer", "text": "В заказе 82006 не хватает двух напитков по 150 ₽."},
        {"role": "operator", "text": "Верну 300 ₽ на карту сегодня."},
    ]
    result = S.summarize(dialog, lang="ru", label="complaint", topics=["missing_item"])
    assert result.source == "offline"
    assert result.fallback_reason.startswith("unreachable")
    for fact in ("82006", "150 ₽", "300 ₽"):
        assert fact in result.text
    out = _command([json.dumps({"lang": "ru", "turns": dialog}, ensure_ascii=False)])
    assert "82006" in out[0]["summary"]


def test_a_closed_conversation_keeps_its_summary_and_the_thread_shows_the_card(
    client, operator, support_inbox
) -> None:
    conversation = factories.make_conversation(
        inbox=support_inbox, text="Заказ 48213 опаздывает, адрес ул. Ленина, 5.", assignee=operator
    )
    message_reply(conversation=conversation, author=operator, body="Курьер будет в 19:35.")
    client.force_login(operator)
    page = client.get(f"/inbox/c/{conversation.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="handover-card"' in html and "48213" in html and "ул. Ленина, 5" in html

    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        conversation_close(conversation=conversation, actor=operator)
    stored = ConversationSummary.objects.get(conversation=conversation)
    assert stored.source == "offline" and stored.lang == "ru"
    assert "48213" in stored.text and "19:35" in stored.text
    assert stored.facts["orders"] == ["48213"]
    assert stored.messages_seen == 2
    html = client.get(f"/inbox/c/{conversation.pk}/").content.decode()
    assert "stored at close" in html


def test_storing_twice_rewrites_the_one_summary(operator, support_inbox) -> None:
    from analytics.ai.handover import conversation_summary_store

    conversation = factories.make_conversation(inbox=support_inbox, text="Where is order 90411?")
    conversation_summary_store(conversation_id=conversation.pk)
    factories.receive(conversation, "It was paid, $31.50.")
    row = conversation_summary_store(conversation_id=conversation.pk)
    assert ConversationSummary.objects.filter(conversation=conversation).count() == 1
    assert "$31.50" in row.text and row.messages_seen == 2
    assert conversation_summary_store(conversation_id=10**9) is None
