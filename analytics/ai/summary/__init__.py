"""The hand-over card: what the next operator (and the record) needs from a dialog, offline.

`handover_card()` is pure Python over the dialog's text: the label and topics (from the
classifier, or given), the facts found by regular expressions (order and booking numbers,
amounts with their currency, dates and times, addresses, flights), the customer's main
request, what the operator promised and what is still open. Everything it says about the
dialog is a verbatim piece of it, so it never shows a number or a code the dialog does not
hold; the card is in the dialog's language and at most `MAX_WORDS` words.

`summarize()` is the one entry point: the offline card, or — when an OpenAI-compatible
endpoint is configured (`analytics.ai.llm`) — the endpoint's text, validated against the
same rules, with the card as the fallback. docs/ai.md, "Summaries".

- `dialog`: turns, facts, card and summary records; the dialog's language;
- `facts`: the facts found by regular expressions;
- `card`: the request, the promise, what is open, composed into the card;
- `validation`: the rules a summary keeps (length, language, no invented numbers);
- `entry`: `summarize()` and the classifier's label and topics for it;
- `quality`: recall on the annotated dialog set against a naive baseline.
"""

from analytics.ai.summary.card import handover_card, main_request, operator_promise, still_open
from analytics.ai.summary.dialog import (
    CUSTOMER,
    LANGS,
    MAX_WORDS,
    OPERATOR,
    Card,
    Facts,
    Summary,
    Turn,
    detect_lang,
)
from analytics.ai.summary.entry import classify_dialog, summarize
from analytics.ai.summary.facts import extract_facts
from analytics.ai.summary.quality import (
    DIALOGS_PATH,
    baseline_summary,
    evaluate,
    fact_recall,
    load_dialogs,
)
from analytics.ai.summary.validation import invented_codes, validate

__all__ = [
    "CUSTOMER",
    "DIALOGS_PATH",
    "LANGS",
    "MAX_WORDS",
    "OPERATOR",
    "Card",
    "Facts",
    "Summary",
    "Turn",
    "baseline_summary",
    "classify_dialog",
    "detect_lang",
    "evaluate",
    "extract_facts",
    "fact_recall",
    "handover_card",
    "invented_codes",
    "load_dialogs",
    "main_request",
    "operator_promise",
    "still_open",
    "summarize",
    "validate",
]
