"""The optional LLM endpoint: its summary is used only when it keeps the rules;
a failure, a timeout or an invented number falls back to the offline card."""

from __future__ import annotations

import pytest
from django.test import override_settings

from analytics.ai import summary as S

from .fake_http import fake_peer

DIALOG_RU = [
    {"role": "customer", "text": "Заказ 77120 привезли холодным, я заплатил 1 290 ₽."},
    {"role": "operator", "text": "Простите! Оформлю возврат 1 290 ₽, деньги придут за 3-5 дней."},
]
DIALOG_EN = [
    {"role": "customer", "text": "Flight LH 1444 on May 5 was moved, booking K7Q2ZX. Rebook me."},
    {"role": "operator", "text": "I'll rebook you on the next flight and email the ticket."},
]


@pytest.fixture
def llm():
    with (
        fake_peer() as peer,
        override_settings(
            AI_LLM_URL=f"{peer.url}/v1",
            AI_LLM_MODEL="tiny-local",
            AI_LLM_API_KEY="sekret",
            AI_LLM_TIMEOUT_SECONDS=0.5,
        ),
    ):
        yield peer


def test_a_valid_llm_summary_is_used(llm) -> None:
    llm.chat("Клиент получил холодный заказ 77120 (1 290 ₽). Оператор оформит возврат 1 290 ₽.")
    result = S.summarize(DIALOG_RU, lang="ru", label="complaint")
    assert result.source == "llm", result.fallback_reason
    assert result.text.startswith("Клиент получил холодный заказ 77120")
    # what was asked: an OpenAI-style chat completion with the dialog and the rules
    (request,) = llm.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["Authorization"] == "Bearer sekret"
    body = request.json()
    assert body["model"] == "tiny-local"
    assert body["messages"][0]["role"] == "system" and "60" in body["messages"][0]["content"]
    assert "Клиент: Заказ 77120" in body["messages"][1]["content"]


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("Order 77120 was cold; refund of 1 290 ₽ promised.", "wrong language"),
        ("Заказ 77121 холодный, возврат 1 290 ₽.", "numbers not in the dialog: 77121"),
        ("Возврат 1 500 ₽ по заказу 77120.", "numbers not in the dialog: 500"),
        (" ".join(["возврат"] * 61), "too long"),
        ("", "empty"),
    ],
)
def test_a_summary_that_breaks_a_rule_falls_back_to_the_offline_card(llm, answer, reason) -> None:
    llm.chat(answer)
    result = S.summarize(DIALOG_RU, lang="ru", label="complaint")
    assert result.source == "offline"
    assert result.fallback_reason == reason
    assert result.text == S.handover_card(DIALOG_RU, lang="ru", label="complaint").text


def test_garbage_from_the_endpoint_falls_back(llm) -> None:
    llm.answer_raw(200, b"<html>proxy error</html>")
    result = S.summarize(DIALOG_EN, lang="en", label="order")
    assert (result.source, result.fallback_reason) == ("offline", "not a chat completion")
    assert "LH 1444" in result.text and "K7Q2ZX" in result.text


def test_a_server_error_falls_back(llm) -> None:
    llm.answer_json(500, {"error": {"message": "model overloaded"}})
    result = S.summarize(DIALOG_EN, lang="en", label="order")
    assert (result.source, result.fallback_reason) == ("offline", "HTTP 500")


def test_an_endpoint_that_does_not_answer_in_time_falls_back(llm) -> None:
    llm.hold()
    result = S.summarize(DIALOG_EN, lang="en", label="order")
    assert result.source == "offline"
    assert result.fallback_reason.startswith("unreachable")
    assert llm.received.is_set()


def test_with_no_endpoint_configured_nothing_is_sent() -> None:
    with fake_peer() as peer:
        result = S.summarize(DIALOG_EN, lang="en", label="order")
    assert result.source == "offline" and peer.requests == []
