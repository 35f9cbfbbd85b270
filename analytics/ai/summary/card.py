"""The offline hand-over card: the customer's main request, what the operator promised and
what is still open, composed with the label, topics and facts into at most `MAX_WORDS` words
(pure: no database, no network)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from analytics.ai.summary.dialog import (
    CUSTOMER,
    LANGS,
    MAX_WORDS,
    OPERATOR,
    Card,
    Turn,
    _turn,
    detect_lang,
)
from analytics.ai.summary.facts import extract_facts

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
