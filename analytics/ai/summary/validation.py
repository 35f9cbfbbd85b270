"""The rules every summary keeps, the offline card and the LLM's text alike: not empty, at most
`MAX_WORDS` words, in the dialog's language, no number or code the dialog does not hold."""

from __future__ import annotations

import re

from analytics.ai.summary.dialog import MAX_WORDS, detect_lang

_CODE = re.compile(r"[\w-]*\d[\w-]*")


def _squash(text: str) -> str:
    return re.sub(r"[\s\u00a0\u202f#№-]", "", text).lower()


def invented_codes(summary: str, dialog_text: str) -> list[str]:
    """Numbers and codes in `summary` that the dialog does not hold: every run of digits must
    be a run of digits of the dialog, and every token with a digit must occur in it."""
    digit_runs = set(re.findall(r"\d+", dialog_text))
    squashed = _squash(dialog_text)
    bad = []
    for token in _CODE.findall(summary):
        runs = re.findall(r"\d+", token)
        if any(run not in digit_runs for run in runs) or _squash(token) not in squashed:
            bad.append(token)
    return bad


def validate(summary: str, *, dialog_text: str, lang: str) -> str:
    """ "" when `summary` keeps the rules, else the reason it does not."""
    if not isinstance(summary, str) or not summary.strip():
        return "empty"
    if len(summary.split()) > MAX_WORDS:
        return "too long"
    if detect_lang(summary) != lang:
        return "wrong language"
    invented = invented_codes(summary, dialog_text)
    if invented:
        return f"numbers not in the dialog: {', '.join(invented[:5])}"
    return ""
