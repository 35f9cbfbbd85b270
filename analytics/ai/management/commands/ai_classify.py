"""`python manage.py ai_classify`: JSON lines {"text", "lang"} on stdin → one JSON line
{"label", "confidence", "topics"} per input, in the same order. Offline. docs/ai.md"""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand

BATCH = 64


class Command(BaseCommand):
    help = 'Classify JSON lines {"text", "lang"} from stdin; one JSON line out per input.'

    def handle(self, *args: Any, **options: Any) -> None:
        from analytics.ai import classification, classifier

        head = _head(classification, classifier)
        hidden = _hidden(classification)
        out = self.stdout
        batch: list[tuple[int, str | None]] = []  # (line number, text or None if bad)

        def flush() -> None:
            texts = [t for _n, t in batch if t is not None]
            predictions = iter(head.predict(texts))
            for number, text in batch:
                if text is None:
                    out.write(json.dumps({"error": f"line {number}: expected {{'text': str}}"}))
                    continue
                p = next(predictions)
                row = p.as_json()
                row["topics"] = [t for t in p.topics if t not in hidden]
                out.write(json.dumps(row, ensure_ascii=False))
            out.flush()
            batch.clear()

        for number, line in enumerate(sys.stdin, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                text = row["text"] if isinstance(row, dict) else None
            except (ValueError, KeyError):
                text = None
            batch.append((number, text if isinstance(text, str) else None))
            if len(batch) >= BATCH:
                flush()
        if batch:
            flush()


def _head(classification: Any, classifier: Any) -> Any:
    """The active model; the shipped default when there is no database to ask (a fresh machine
    before `migrate`)."""
    from django.db import DatabaseError

    try:
        return classification.current_head()
    except DatabaseError:
        return classifier.default_head(classification.backend_name())


def _hidden(classification: Any) -> set[str]:
    from django.db import DatabaseError

    try:
        return classification.inactive_topics()
    except DatabaseError:
        return set()
