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
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

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


# --- language ---------------------------------------------------------------------------------

_CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)
_LATIN = re.compile(r"[a-z]", re.IGNORECASE)


def detect_lang(text: str) -> str:
    """ "ru" when Cyrillic letters outnumber Latin ones, else "en" (codes such as SU 1234 in a
    Russian dialog do not tip it)."""
    cyr = len(_CYRILLIC.findall(text))
    lat = len(_LATIN.findall(text))
    return "ru" if cyr >= lat and cyr > 0 else "en"


# --- facts ------------------------------------------------------------------------------------

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


# --- the request, the promise, what is open ---------------------------------------------------

_GREETING = re.compile(
    r"^\s*(?:здравствуйте|добрый (?:день|вечер|утро)|привет|доброе утро|hello|hi|hey|good "
    r"(?:morning|afternoon|evening)|dear \w+|спасибо|thanks?|thank you)[\s,!.]*$",
    re.IGNORECASE,
)
_REQUEST = re.compile(
    r"\b(?:хочу|хотел\w*|можно|могу ли|можете|прошу|нужн\w*|верните|вернуть|измени\w*|поменя\w*"
    r"|отмени\w*|перенес\w*|оформи\w*|подскажите|где|когда|почему|сколько|как\b|не пришл\w*"
    r"|не привез\w*|опазд\w*|please|can you|could you|i want|i'd like|i would like|i need|need"
    r"|where|when|why|how|refund|cancel|change|move|book|wrong|missing|late|haven't|hasn't|didn't)",
    re.IGNORECASE,
)
_PROMISE = re.compile(
    r"\b(?:верн[ёеу]м|вернём|оформ(?:лю|им|ил[аи]?)|отправ(?:лю|им|ил[аи]?)|сдела(?:ю|ем)"
    r"|передам|переда(?:ли|ла|л)|перезвон(?:им|ю)|компенсир\w*|начисл(?:им|ю|ил[аи]?)"
    r"|заменим|привез(?:ут|ём|ем)|пересч\w*|свяж(?:емся|усь)|уточн(?:ю|им)|провер(?:ю|им)"
    r"|будет|будут|ожидайте|i'll|i will|we'll|we will|will be|i've (?:issued|sent|booked|changed)"
    r"|we've (?:issued|sent|booked|changed)|expect|i have (?:issued|sent|booked|changed))",
    re.IGNORECASE,
)

_WORDS = {
    "ru": {
        "complaint": "Жалоба",
        "order": "Заказ",
        "consultation": "Консультация",
        "unsure": "Не определено",
        "facts": "Факты",
        "request": "Просьба",
        "promised": "Обещано",
        "open": "Открыто",
        "none": "нет",
        "reply": "ответить клиенту",
        "await_customer": "ждём ответа клиента",
        "fulfil": "выполнить обещанное",
        "nothing_promised": "ничего",
    },
    "en": {
        "complaint": "Complaint",
        "order": "Order",
        "consultation": "Consultation",
        "unsure": "Unsure",
        "facts": "Facts",
        "request": "Request",
        "promised": "Promised",
        "open": "Open",
        "none": "none",
        "reply": "reply to the customer",
        "await_customer": "waiting for the customer",
        "fulfil": "keep the promise",
        "nothing_promised": "nothing",
    },
}

# Topic slugs an admin or the classifier may use, shown in the dialog's language.
_TOPIC_NAMES = {
    "late_delivery": ("опоздание доставки", "late delivery"),
    "wrong_item": ("не то блюдо", "wrong item"),
    "missing_item": ("не хватает позиции", "missing item"),
    "allergen": ("аллерген", "allergen"),
    "refund": ("возврат", "refund"),
    "ticket_change": ("обмен билета", "ticket change"),
    "cold_food": ("холодная еда", "cold food"),
    "double_charge": ("двойное списание", "double charge"),
    "promo": ("промокод", "promo"),
    "loyalty": ("баллы", "points"),
    "documents": ("документы", "documents"),
    "hotel": ("отель", "hotel"),
    "transfer": ("трансфер", "transfer"),
}


_ABBREVIATIONS = frozenset(
    {"ул", "д", "кв", "пр", "г", "пер", "ш", "наб", "пл", "стр", "корп", "тел", "руб", "р"}
    | {"им", "б-р", "пр-т", "no", "st", "ave", "rd", "apt", "mr", "mrs", "ms", "dr", "vs", "etc"}
)
_BREAK = re.compile(r"[.!?…]+[\"»”)]*\s+|\n+")


def _sentences(text: str) -> list[str]:
    """Sentences, not broken after an abbreviation ("ул. Ленина") or before a lower-case
    word or a digit."""
    out: list[str] = []
    start = 0
    for m in _BREAK.finditer(text):
        if "\n" not in m.group(0):
            before = re.search(r"([\w-]+)[.!?…]*$", text[start : m.start() + 1])
            nxt = text[m.end() : m.end() + 1]
            word = before.group(1).lower() if before else ""
            if word in _ABBREVIATIONS or (nxt and (nxt.islower() or nxt.isdigit())):
                continue
        piece = text[start : m.end()].strip()
        if piece:
            out.append(piece)
        start = m.end()
    tail = text[start:].strip()
    if tail:
        out.append(tail)
    return out


def _clip(text: str, words: int) -> str:
    parts = text.split()
    if len(parts) <= words:
        return " ".join(parts)
    return " ".join(parts[:words]).rstrip(",;:") + "…"


def _strip_greeting(sentence: str) -> str:
    # "Здравствуйте, заказ 123 не пришёл" → "заказ 123 не пришёл"
    return re.sub(
        r"^(?:здравствуйте|добрый (?:день|вечер)|доброе утро|привет|hello|hi|hey|good "
        r"(?:morning|afternoon|evening))[\s,!.]+",
        "",
        sentence,
        flags=re.IGNORECASE,
    ).strip()


def main_request(turns: Sequence[Turn]) -> str:
    """The customer's main request: the first sentence of theirs that asks for something
    (a request word or a question), else their first sentence that is not a greeting."""
    first = ""
    for turn in turns:
        if turn.role != CUSTOMER:
            continue
        for sentence in _sentences(turn.text):
            sentence = _strip_greeting(sentence)
            if not sentence or _GREETING.match(sentence):
                continue
            first = first or sentence
            if _REQUEST.search(sentence) or sentence.endswith("?"):
                return sentence
    return first


def operator_promise(turns: Sequence[Turn]) -> str:
    """What the operator committed to: the sentences that promise something in their latest
    message that promises anything."""
    for turn in reversed(turns):
        if turn.role != OPERATOR:
            continue
        promises = [_strip_greeting(s) for s in _sentences(turn.text) if _PROMISE.search(s)]
        if promises:
            return " ".join(promises)
    return ""


def still_open(turns: Sequence[Turn], promised: str, lang: str) -> str:
    words = _WORDS[lang]
    last = next((t for t in reversed(turns) if t.text.strip()), None)
    if last is None:
        return words["none"]
    if last.role == CUSTOMER:
        sentences = [s for s in map(_strip_greeting, _sentences(last.text)) if s]
        asked = next((s for s in reversed(sentences) if s.endswith("?")), "")
        tail = asked or (sentences[-1] if sentences else "")
        if tail and not _GREETING.match(tail):
            return f"{words['reply']}: {tail}"
        return words["reply"]
    if last.text.rstrip().endswith("?"):
        return words["await_customer"]
    if promised:
        return words["fulfil"]
    return words["none"]


def _topic_name(topic: str, lang: str) -> str:
    names = _TOPIC_NAMES.get(topic.strip().lower())
    if names:
        return names[0] if lang == "ru" else names[1]
    return topic.replace("_", " ").strip()


def _label_name(label: str | None, lang: str) -> str:
    if not label:
        return ""
    return _WORDS[lang].get(label, label)


def _compose(
    lang: str,
    label: str | None,
    topics: Sequence[str],
    facts: Sequence[str],
    request: str,
    promised: str,
    open_: str,
    budgets: tuple[int, int, int, int],
) -> str:
    words = _WORDS[lang]
    fact_budget, request_budget, promise_budget, open_budget = budgets
    head = _label_name(label, lang)
    if topics:
        head = (
            f"{head} · {', '.join(_topic_name(t, lang) for t in topics)}"
            if head
            else ", ".join(_topic_name(t, lang) for t in topics)
        )
    parts = [f"{head}." if head else ""]
    if facts:
        chosen: list[str] = []
        used = 0
        for fact in facts:
            size = len(fact.split())
            if used + size > fact_budget:
                continue
            chosen.append(fact)
            used += size
        if chosen:
            parts.append(f"{words['facts']}: {'; '.join(chosen)}.")
    if request:
        parts.append(f"{words['request']}: {_clip(request, request_budget)}")
    kept = _clip(promised, promise_budget) if promised else words["nothing_promised"]
    parts.append(f"{words['promised']}: {kept}")
    parts.append(f"{words['open']}: {_clip(open_, open_budget)}")
    text = " ".join(p if p[-1] in ".!?…" else f"{p}." for p in (q.rstrip() for q in parts) if p)
    return re.sub(r"([.!?…])\s*\.", r"\1", text)


def handover_card(
    turns: Iterable[Turn | Mapping[str, Any]],
    *,
    lang: str | None = None,
    label: str | None = None,
    topics: Sequence[str] = (),
) -> Card:
    """The offline hand-over card of a dialog (pure: no database, no network)."""
    dialog = [_turn(t) for t in turns]
    whole = "\n".join(t.text for t in dialog)
    if lang not in LANGS:
        lang = detect_lang(whole)
    facts = extract_facts(whole)
    request = main_request(dialog)
    promised = operator_promise(dialog)
    open_ = still_open(dialog, promised, lang)
    fact_list = facts.all()
    # Shrink the parts until the whole card fits: facts first keep their room.
    for budgets in (
        (24, 14, 12, 10),
        (22, 11, 9, 7),
        (20, 9, 7, 5),
        (18, 7, 5, 4),
        (14, 5, 4, 3),
        (10, 4, 3, 2),
    ):
        text = _compose(lang, label, topics, fact_list, request, promised, open_, budgets)
        if len(text.split()) <= MAX_WORDS:
            break
    else:  # pragma: no cover - the last budgets always fit
        text = _clip(text, MAX_WORDS)
    return Card(
        lang=lang,
        label=label,
        topics=list(topics),
        facts=facts,
        request=request,
        promised=promised,
        open=open_,
        text=text,
    )


def _turn(turn: Turn | Mapping[str, Any]) -> Turn:
    if isinstance(turn, Turn):
        return turn
    role = turn.get("role")
    text = turn.get("text")
    if role not in (CUSTOMER, OPERATOR) or not isinstance(text, str):
        raise ValueError("a turn is {'role': 'customer'|'operator', 'text': str}")
    return Turn(role=role, text=text)


# --- validation (offline card and LLM text alike) ---------------------------------------------

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


# --- the entry point --------------------------------------------------------------------------


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
    text, reason = llm_client.llm_summary(dialog, card=card)
    if text is not None:
        reason = validate(text, dialog_text=whole, lang=lang)
        if not reason:
            return Summary(text=text.strip(), lang=lang, source="llm", card=card)
    logger.info("LLM summary refused (%s); the offline card is used", reason)
    return Summary(text=card.text, lang=lang, source="offline", card=card, fallback_reason=reason)


# --- quality on an annotated dialog set (bench/summary.py, tests) -----------------------------

DIALOGS_PATH = __import__("pathlib").Path(__file__).with_name("data") / "summary_dialogs.jsonl"


def load_dialogs(path: Any = None) -> list[dict[str, Any]]:
    """The annotated dialog set: one JSON object a line with `lang`, `turns` and `facts`
    (the key facts, verbatim from the dialog)."""
    import json

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
