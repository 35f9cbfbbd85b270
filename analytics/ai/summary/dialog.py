"""The dialog a summary reads and what it gives back: turns, facts, the card, the summary;
the dialog's language."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_WORDS = 60
LANGS = ("ru", "en")

CUSTOMER = "customer"
OPERATOR = "operator"


@dataclass(frozen=True)
class Turn:
    role: str  # "customer" | "operator"
    text: str


@dataclass
class Facts:
    orders: list[str] = field(default_factory=list)
    amounts: list[str] = field(default_factory=list)
    dates: list[str] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)
    flights: list[str] = field(default_factory=list)

    def all(self) -> list[str]:
        return [*self.orders, *self.flights, *self.amounts, *self.dates, *self.addresses]

    def as_dict(self) -> dict[str, list[str]]:
        return {
            "orders": self.orders,
            "amounts": self.amounts,
            "dates": self.dates,
            "addresses": self.addresses,
            "flights": self.flights,
        }


@dataclass
class Card:
    lang: str
    label: str | None
    topics: list[str]
    facts: Facts
    request: str
    promised: str
    open: str
    text: str  # the card as one paragraph, ≤ MAX_WORDS words


@dataclass
class Summary:
    text: str
    lang: str
    source: str  # "offline" | "llm"
    card: Card
    fallback_reason: str = ""


_CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)
_LATIN = re.compile(r"[a-z]", re.IGNORECASE)


def detect_lang(text: str) -> str:
    """ "ru" when Cyrillic letters outnumber Latin ones, else "en" (codes such as SU 1234 in a
    Russian dialog do not tip it)."""
    cyr = len(_CYRILLIC.findall(text))
    lat = len(_LATIN.findall(text))
    return "ru" if cyr >= lat and cyr > 0 else "en"


def _turn(turn: Turn | Mapping[str, Any]) -> Turn:
    if isinstance(turn, Turn):
        return turn
    role = turn.get("role")
    text = turn.get("text")
    if role not in (CUSTOMER, OPERATOR) or not isinstance(text, str):
        raise ValueError("a turn is {'role': 'customer'|'operator', 'text': str}")
    return Turn(role=role, text=text)
