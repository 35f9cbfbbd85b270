"""Labelled examples and what the classifier answers: the labels, the seed and held-out sets
shipped in `analytics/ai/data`, and the topics the seed set teaches."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LABELS = ("complaint", "order", "consultation")
LANGS = ("ru", "en")
DATA_DIR = Path(__file__).resolve().parent.parent / "data"
SEED_FILE = DATA_DIR / "seed.jsonl"
HELDOUT_FILE = DATA_DIR / "heldout.jsonl"
DEFAULT_HEAD_FILE = DATA_DIR / "default_head.npz"

MIN_TOPIC_EXAMPLES = 3  # a topic is learnt once it has this many examples
MAX_CHARS = 2000  # the text a conversation is classified on (its first customer messages)


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    lang: str = ""
    topics: tuple[str, ...] = ()
    weight: float = 1.0


@dataclass(frozen=True)
class Prediction:
    label: str
    confidence: float
    topics: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"label": self.label, "confidence": self.confidence, "topics": self.topics}


def load_examples(path: Path) -> list[Example]:
    """A labelled JSON-lines file: {"text", "lang", "label", "topics"} per line."""
    examples = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            row = json.loads(line)
            if row["label"] not in LABELS:
                raise ValueError(f"{path}: unknown label {row['label']!r}")
            examples.append(
                Example(
                    text=row["text"],
                    label=row["label"],
                    lang=row.get("lang", ""),
                    topics=tuple(row.get("topics") or ()),
                )
            )
    return examples


def seed_digest() -> str:
    return hashlib.sha256(SEED_FILE.read_bytes()).hexdigest()


_seed_topics: dict[str, frozenset[str]] = {}


def seed_topics() -> set[str]:
    """The topics the seed set teaches (those with `MIN_TOPIC_EXAMPLES`), read without training:
    the default model's topics."""
    digest = seed_digest()
    topics = _seed_topics.get(digest)
    if topics is None:
        counts: dict[str, int] = {}
        for example in load_examples(SEED_FILE):
            for topic in set(example.topics):
                counts[topic] = counts.get(topic, 0) + 1
        topics = frozenset(t for t, n in counts.items() if n >= MIN_TOPIC_EXAMPLES)
        _seed_topics.clear()
        _seed_topics[digest] = topics
    return set(topics)
