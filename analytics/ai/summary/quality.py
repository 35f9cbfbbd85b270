"""Quality on an annotated dialog set (bench/summary.py, tests): key-fact recall of the offline
card against a naive baseline, and every rule the card must keep."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from analytics.ai.summary.card import _clip, handover_card
from analytics.ai.summary.dialog import CUSTOMER, MAX_WORDS, OPERATOR, Turn, _turn
from analytics.ai.summary.validation import _squash, validate

DIALOGS_PATH = Path(__file__).parent.parent / "data" / "summary_dialogs.jsonl"


def load_dialogs(path: Any = None) -> list[dict[str, Any]]:
    """The annotated dialog set: one JSON object a line with `lang`, `turns` and `facts`
    (the key facts, verbatim from the dialog)."""
    with open(path or DIALOGS_PATH, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def baseline_summary(turns: Sequence[Turn | Mapping[str, Any]]) -> str:
    """The naive summary: the first customer turn and the last operator turn, clipped to
    `MAX_WORDS` words."""
    dialog = [_turn(t) for t in turns]
    first = next((t.text for t in dialog if t.role == CUSTOMER), "")
    last = next((t.text for t in reversed(dialog) if t.role == OPERATOR), "")
    return _clip(f"{first} {last}".strip(), MAX_WORDS).rstrip("…")


def fact_recall(summary: str, facts: Sequence[str]) -> tuple[int, int]:
    """(facts found in `summary`, facts), comparing without spaces, signs and case."""
    squashed = _squash(summary)
    return sum(1 for f in facts if _squash(f) in squashed), len(facts)


def evaluate(dialogs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Key-fact recall of the offline card and of the baseline, and every rule the card must
    keep (the numbers, the language, the length), over an annotated set."""
    found = base_found = total = 0
    violations: list[str] = []
    for item in dialogs:
        turns = [_turn(t) for t in item["turns"]]
        whole = "\n".join(t.text for t in turns)
        card = handover_card(turns, lang=item.get("lang"))
        hit, n = fact_recall(card.text, item.get("facts", []))
        base_hit, _n = fact_recall(baseline_summary(turns), item.get("facts", []))
        found, base_found, total = found + hit, base_found + base_hit, total + n
        reason = validate(card.text, dialog_text=whole, lang=item.get("lang") or card.lang)
        if reason:
            violations.append(f"{item.get('id', '?')}: {reason}")
    return {
        "dialogs": len(dialogs),
        "facts": total,
        "recall": found / total if total else 1.0,
        "baseline_recall": base_found / total if total else 1.0,
        "violations": violations,
    }
