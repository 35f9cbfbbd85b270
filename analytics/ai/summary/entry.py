"""The entry point: the classifier's label and topics, the offline card, then the LLM's text
when an endpoint is configured, validated, with the card as the fallback."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from analytics.ai.summary.card import handover_card
from analytics.ai.summary.dialog import (
    CUSTOMER,
    LANGS,
    MAX_WORDS,
    Summary,
    Turn,
    _turn,
    detect_lang,
)
from analytics.ai.summary.validation import validate

logger = logging.getLogger(__name__)


def classify_dialog(turns: Sequence[Turn], lang: str) -> tuple[str | None, list[str]]:
    """The label and topics the classifier (`analytics.ai.classification`) gives the
    customer's words; "unsure" below its threshold. (None, []) when it cannot answer: the
    card is useful without them."""
    text = "\n".join(t.text for t in turns if t.role == CUSTOMER)
    if not text.strip():
        return None, []
    try:
        from analytics.ai.classification import classify_texts, unsure_below

        (prediction,) = classify_texts([text])
    except Exception:
        logger.warning("classifier unavailable for the summary", exc_info=True)
        return None, []
    label = "unsure" if prediction.confidence < unsure_below() else prediction.label
    return label, list(prediction.topics)


def summarize(
    turns: Iterable[Turn | Mapping[str, Any]],
    *,
    lang: str | None = None,
    label: str | None = None,
    topics: Sequence[str] | None = None,
    classify: bool = True,
    llm: bool | None = None,
) -> Summary:
    """The summary of a dialog: the LLM's when one is configured (and `llm` is not False) and
    its text passes `validate`, else the offline card. Never raises for a bad endpoint."""
    dialog = [_turn(t) for t in turns]
    whole = "\n".join(t.text for t in dialog)
    if lang not in LANGS:
        lang = detect_lang(whole)
    if label is None and classify:
        label, found = classify_dialog(dialog, lang)
        topics = [*(topics or ()), *(t for t in found if t not in (topics or ()))]
    card = handover_card(dialog, lang=lang, label=label, topics=topics or ())
    from analytics.ai import llm as llm_client

    if llm is False or (llm is None and not llm_client.configured()):
        return Summary(text=card.text, lang=lang, source="offline", card=card)
    text, reason = llm_client.llm_summary(dialog, card=card, max_words=MAX_WORDS)
    if text is not None:
        reason = validate(text, dialog_text=whole, lang=lang)
        if not reason:
            return Summary(text=text.strip(), lang=lang, source="llm", card=card)
    logger.info("LLM summary refused (%s); the offline card is used", reason)
    return Summary(text=card.text, lang=lang, source="offline", card=card, fallback_reason=reason)
