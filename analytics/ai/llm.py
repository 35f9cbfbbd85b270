"""An optional OpenAI-compatible chat endpoint that writes the summary (off by default).

Configured by `AI_LLM_URL` (the API base, e.g. `http://127.0.0.1:8080/v1`, or the full
`…/chat/completions` URL), `AI_LLM_MODEL`, `AI_LLM_API_KEY` and `AI_LLM_TIMEOUT_SECONDS`.
With no URL nothing leaves the server. The caller (`analytics.ai.summary.summarize`) validates
what comes back and falls back to the offline card; this module only talks HTTP and never
raises for a bad peer.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.conf import settings

if TYPE_CHECKING:
    from analytics.ai.summary import Card, Turn

logger = logging.getLogger(__name__)

_PROMPT = {
    "ru": (
        "Ты помогаешь оператору поддержки. Напиши по-русски краткую карточку передачи диалога "
        "(не больше {words} слов): суть обращения, факты (номера заказов и броней, суммы, даты, "
        "адреса, рейсы), что обещал оператор, что осталось сделать. Используй только числа и "
        "коды, которые есть в диалоге. Ответь только текстом карточки."
    ),
    "en": (
        "You help a support operator. Write in English a short hand-over card of the dialog "
        "(at most {words} words): the customer's request, the facts (order and booking "
        "numbers, amounts, dates, addresses, flights), what the operator promised, what is "
        "still open. Use only numbers and codes that occur in the dialog. Answer with the "
        "card's text only."
    ),
}


def configured() -> bool:
    return bool(getattr(settings, "AI_LLM_URL", ""))


def _endpoint() -> str:
    url = settings.AI_LLM_URL.rstrip("/")
    return url if url.endswith("/chat/completions") else f"{url}/chat/completions"


def _request_body(turns: Sequence[Turn], card: Card, max_words: int) -> dict[str, Any]:
    who = {"customer": "Customer" if card.lang == "en" else "Клиент"}
    who["operator"] = "Operator" if card.lang == "en" else "Оператор"
    dialog = "\n".join(f"{who[t.role]}: {t.text}" for t in turns)
    return {
        "model": settings.AI_LLM_MODEL,
        "temperature": 0,
        "max_tokens": 200,
        "messages": [
            {"role": "system", "content": _PROMPT[card.lang].format(words=max_words)},
            {"role": "user", "content": dialog},
        ],
    }


def llm_summary(turns: Sequence[Turn], *, card: Card, max_words: int) -> tuple[str | None, str]:
    """(text, "") from the endpoint, or (None, reason) when it failed, timed out or answered
    something that is not a chat completion. The prompt asks for at most `max_words` words."""
    body = json.dumps(_request_body(turns, card, max_words)).encode()
    headers = {"Content-Type": "application/json"}
    if settings.AI_LLM_API_KEY:
        headers["Authorization"] = f"Bearer {settings.AI_LLM_API_KEY}"
    request = urllib.request.Request(_endpoint(), data=body, headers=headers, method="POST")  # noqa: S310 - the admin's URL
    try:
        with urllib.request.urlopen(request, timeout=settings.AI_LLM_TIMEOUT_SECONDS) as response:  # noqa: S310
            raw = response.read(200_000)
    except urllib.error.HTTPError as exc:
        return None, f"HTTP {exc.code}"
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return None, f"unreachable: {reason}"
    try:
        text = json.loads(raw)["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        return None, "not a chat completion"
    if not isinstance(text, str):
        return None, "not a chat completion"
    return text, ""
