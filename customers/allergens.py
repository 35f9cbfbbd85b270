"""Which words name an allergen, and whether a text or a product conflicts with a customer's
allergies. Pure functions: no queries here.

The vocabulary is English and Russian (the two languages of our floor). A word matches at a
word start, so "sesame" finds "Sesame bun" and "кунжут" finds "кунжутом"; products declared by
the back office with their allergens are matched by SKU name as well (`product_words`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from customers.models import Allergen

# Word stems: matched at the start of a word, case-insensitively.
WORDS: dict[str, tuple[str, ...]] = {
    Allergen.SESAME: ("sesame", "tahini", "tahina", "halva", "кунжут", "тахин", "халв"),
    Allergen.NUTS: (
        "nut",
        "almond",
        "hazelnut",
        "walnut",
        "cashew",
        "pecan",
        "pistachio",
        "praline",
        "nutella",
        "pesto",
        "marzipan",
        "орех",
        "миндал",
        "фундук",
        "кешью",
        "фисташ",
        "пралине",
        "песто",
    ),
    Allergen.PEANUTS: ("peanut", "satay", "арахис"),
    Allergen.GLUTEN: (
        "gluten",
        "wheat",
        "bread",
        "bun",
        "pasta",
        "noodle",
        "flour",
        "tempura",
        "breaded",
        "croissant",
        "глютен",
        "пшени",
        "хлеб",
        "булоч",
        "макарон",
        "лапш",
        "мук",
        "темпур",
    ),
    Allergen.LACTOSE: (
        "lactose",
        "milk",
        "cheese",
        "cream",
        "butter",
        "yogurt",
        "yoghurt",
        "mozzarella",
        "parmesan",
        "latte",
        "cappuccino",
        "лактоз",
        "молок",
        "молоч",
        "сыр",
        "сливк",
        "сливоч",
        "масло сливоч",
        "йогурт",
        "моцарел",
        "пармезан",
        "латте",
        "капучино",
    ),
    Allergen.EGGS: ("egg", "mayonnaise", "mayo", "omelette", "яйц", "яич", "майонез", "омлет"),
    Allergen.FISH: (
        "fish",
        "salmon",
        "tuna",
        "cod",
        "anchov",
        "eel",
        "рыб",
        "лосос",
        "семг",
        "тунец",
        "тунц",
        "угор",
        "анчоус",
    ),
    Allergen.SHELLFISH: (
        "shrimp",
        "prawn",
        "crab",
        "lobster",
        "mussel",
        "oyster",
        "креветк",
        "краб",
        "омар",
        "мидии",
        "мидий",
        "устриц",
    ),
    Allergen.SOY: ("soy", "soya", "tofu", "edamame", "miso", "соев", "соя", "тофу", "мисо"),
    Allergen.CELERY: ("celery", "сельдере"),
    Allergen.MUSTARD: ("mustard", "горчиц"),
}


def _pattern(stems: Iterable[str]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(s) for s in sorted(set(stems), key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})\w*", re.IGNORECASE | re.UNICODE)


_PATTERNS = {allergen: _pattern(stems) for allergen, stems in WORDS.items()}
# "leave out the sesame", "без кунжута": a mention right after one of these is the safe kind.
_NEGATION = re.compile(
    r"(?:\b(?:no|without|hold|skip|leave\s+out|free\s+of|free\s+from|minus)|"
    r"(?<!\w)(?:без|убрать|уберите|убираем|не\s+добавля\w*))"
    r"(?:\s+(?:the|any|all|of|a|all\s+the))*\s*$",
    re.IGNORECASE | re.UNICODE,
)


@dataclass(frozen=True)
class Conflict:
    allergen: str
    label: str
    words: tuple[str, ...]


def allergens_in(
    text: str, *, products: dict[str, set[str]] | None = None, skip_negated: bool = False
) -> dict[str, set[str]]:
    """allergen -> the words of `text` that name it. `products` maps a lower-case product
    name to the allergens the back office declared for it ("bagel classic" -> {sesame}).
    With `skip_negated`, "without sesame" is not a mention (a reply, not an item)."""
    found: dict[str, set[str]] = {}
    if not text:
        return found
    for allergen, pattern in _PATTERNS.items():
        words = {
            m.group(0)
            for m in pattern.finditer(text)
            if not (skip_negated and _NEGATION.search(text[max(0, m.start() - 40) : m.start()]))
        }
        if words:
            found.setdefault(allergen, set()).update(words)
    if products:
        lowered = text.lower()
        for name, declared in products.items():
            if name and name in lowered:
                for allergen in declared:
                    found.setdefault(allergen, set()).add(name)
    return found


def conflicts(
    text: str, allergies: Iterable[str], *, products: dict[str, set[str]] | None = None
) -> list[Conflict]:
    """The customer's allergies that `text` names (an ingredient or a product containing one)."""
    allergies = set(allergies)
    if not allergies:
        return []
    named = allergens_in(text, products=products, skip_negated=True)
    return [
        Conflict(allergen=a, label=str(Allergen(a).label), words=tuple(sorted(named[a])))
        for a in sorted(allergies & set(named))
    ]


def item_allergens(
    name: str, modifiers: Iterable[str] = (), declared: Iterable[str] = ()
) -> set[str]:
    """What an item contains: what the back office declared, and what its name or
    modifiers say ("Salmon roll + sesame") — an undeclared sesame seed still counts."""
    found = set(declared)
    text = " ".join([name, *(str(m) for m in modifiers)])
    found.update(allergens_in(text))
    return found
