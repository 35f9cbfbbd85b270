"""The facts of a dialog found by regular expressions: order and booking numbers, amounts with
their currency, dates and times, addresses, flights. Each is a verbatim piece of the dialog."""

from __future__ import annotations

import re

from analytics.ai.summary.dialog import Facts

_MONTHS_RU = "января|февраля|марта|апреля|мая|июня|июля|августа|сентября|октября|ноября|декабря"
_MONTHS_EN = (
    "January|February|March|April|May|June|July|August|September|October|November|December"
    "|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec"
)
_CURRENCY = (
    r"(?:₽|руб(?:лей|ля|ль)?\.?|р\.|RUB|rub|€|EUR|eur|евро|\$|USD|usd"
    r"|долл(?:аров|ара)?\.?|dollars?|£|GBP|₸|тенге)"
)
_NUMBER = r"\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?"

_AMOUNT = re.compile(
    rf"(?:(?<![\w.])(?:{_NUMBER})[ \u00a0]?{_CURRENCY}(?!\w))"
    rf"|(?:(?:[$€£₽])[ \u00a0]?(?:{_NUMBER}))"
    r"|(?:(?<![\w.])\d+(?:[.,]\d+)?[ \u00a0]?%)",
    re.IGNORECASE,
)
# Order and booking references: after a keyword or a sign, or a PNR-like mixed code.
_ORDER_KEYWORD = re.compile(
    r"(?:заказ\w*|брон\w*|order|booking|reservation|ticket|билет\w*|PNR|номер|invoice|счёт|счет)"
    r"[ \u00a0]*(?:№|#|no\.?|number|номер)?[ \u00a0]*:?[ \u00a0]*"
    r"(?P<ref>(?=[A-Z0-9-]*\d)[A-Z0-9][A-Z0-9-]{3,15})\b",
    re.IGNORECASE,
)
_ORDER_SIGN = re.compile(r"(?:№|#)[ \u00a0]?(?P<ref>[A-Z0-9][A-Z0-9-]{2,15})\b", re.IGNORECASE)
# A bare number of five or more digits (an answer to "what is the order number?").
_BARE_REF = re.compile(r"(?<![\w.,:/-])\d{5,12}(?![\w.,:/-]\d)")
_PNR = re.compile(r"\b(?=[A-Z]*\d)(?=\d*[A-Z])[A-Z0-9]{6}\b")
_FLIGHT = re.compile(
    r"(?:(?:рейс\w*|flight)[ \u00a0]+(?P<a>[A-Z0-9]{2}[ \u00a0-]?\d{2,4})\b)"
    r"|\b(?P<b>(?:SU|S7|U6|DP|UT|FV|5N|N4|WZ|LH|BA|TK|EK|AF|KL|QR|AY|OS|SN|LX|IB|AZ|EY|FZ)"
    r"[ \u00a0-]?\d{2,4})\b",
)
_DATE = re.compile(
    rf"\b\d{{4}}-\d{{2}}-\d{{2}}\b"
    rf"|\b\d{{1,2}}[./]\d{{1,2}}(?:[./]\d{{2,4}})?\b"
    rf"|\b\d{{1,2}}[ \u00a0](?:{_MONTHS_RU})\b"
    rf"|\b\d{{1,2}}(?:st|nd|rd|th)?[ \u00a0](?:{_MONTHS_EN})\b"
    rf"|\b(?:{_MONTHS_EN})[ \u00a0]\d{{1,2}}(?:st|nd|rd|th)?\b"
    rf"|\b(?:[01]?\d|2[0-3]):[0-5]\d\b",
    re.IGNORECASE,
)
_ADDRESS = re.compile(
    r"(?:(?i:ул\.|улица|пр-т|пр\.|проспект|пер\.|переулок|ш\.|шоссе|б-р|бульвар|наб\.|набережная"
    r"|площадь|пл\.)[ \u00a0]*[А-ЯЁ0-9][\w-]*(?:[ \u00a0][А-ЯЁ][\w-]*)?,?[ \u00a0]*"
    r"(?:д\.|дом)?[ \u00a0]*\d+[а-яА-Я]?(?:/\d+)?"
    r"(?:,?[ \u00a0]*(?:кв\.|квартира|офис|подъезд)[ \u00a0]*\d+)?)"
    r"|(?:\b\d+[A-Za-z]?[ \u00a0]+(?:[A-Z][a-z]+[ \u00a0]+){1,2}"
    r"(?:Street|St\.?|Avenue|Ave\.?|Road|Rd\.?|Lane|Ln\.?|Boulevard|Blvd\.?|Square|Drive|Dr\.?)"
    r"(?:,?[ \u00a0]*(?:apt\.?|flat|suite|unit)[ \u00a0]*\d+)?)",
)


def _add(bucket: list[str], value: str, seen: set[str]) -> None:
    value = value.strip(" ,.;")
    key = re.sub(r"[\s\u00a0\u202f#№-]", "", value).lower()
    if value and key not in seen:
        seen.add(key)
        bucket.append(value)


def extract_facts(text: str) -> Facts:
    """The facts in `text`, each a verbatim piece of it, in order of appearance, no repeats."""
    facts = Facts()
    seen: set[str] = set()
    taken: list[tuple[int, int]] = []

    def free(span: tuple[int, int]) -> bool:
        return all(span[1] <= a or span[0] >= b for a, b in taken)

    for m in _FLIGHT.finditer(text):
        group = "a" if m.group("a") else "b"
        taken.append(m.span(group))
        _add(facts.flights, m.group(group), seen)
    for m in _AMOUNT.finditer(text):
        if free(m.span()):
            taken.append(m.span())
            _add(facts.amounts, m.group(0), seen)
    for m in _ADDRESS.finditer(text):
        if free(m.span()):
            taken.append(m.span())
            _add(facts.addresses, m.group(0), seen)
    for m in _DATE.finditer(text):
        if free(m.span()):
            taken.append(m.span())
            _add(facts.dates, m.group(0), seen)
    for pattern in (_ORDER_KEYWORD, _ORDER_SIGN):
        for m in pattern.finditer(text):
            if free(m.span("ref")) and re.search(r"\d", m.group("ref")):
                taken.append(m.span("ref"))
                _add(facts.orders, m.group("ref"), seen)
    for pattern in (_PNR, _BARE_REF):
        for m in pattern.finditer(text):
            if free(m.span()):
                taken.append(m.span())
                _add(facts.orders, m.group(0), seen)
    return facts
