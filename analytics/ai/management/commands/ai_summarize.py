"""`python manage.py ai_summarize`: JSON lines in, one summary line out per input, in order.

In:  {"lang": "ru"|"en", "turns": [{"role": "customer"|"operator", "text": "..."}]}
Out: {"summary": "..."}   — or {"error": "..."} for a line that is not such an object.

Offline unless `AI_LLM_URL` is set (then validated, with the offline card as the fallback).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand

from analytics.ai.summary import summarize


def _one(line: str) -> dict[str, Any]:
    try:
        item = json.loads(line)
    except ValueError:
        return {"error": "not JSON"}
    if not isinstance(item, dict) or not isinstance(item.get("turns"), list):
        return {"error": 'expected {"lang": ..., "turns": [...]}'}
    lang = item.get("lang")
    if lang is not None and lang not in ("ru", "en"):
        return {"error": 'lang must be "ru" or "en"'}
    try:
        summary = summarize(item["turns"], lang=lang)
    except ValueError as exc:
        return {"error": str(exc)}
    return {"summary": summary.text}


class Command(BaseCommand):
    help = "Summarise dialogs: JSON lines {lang, turns} on stdin, {summary} per line on stdout."
    stealth_options = ("stdin",)

    def handle(self, *args: Any, **options: Any) -> None:
        stdin = options.get("stdin") or sys.stdin
        for line in stdin:
            if not line.strip():
                continue
            self.stdout.write(json.dumps(_one(line), ensure_ascii=False))
            self.stdout.flush()
