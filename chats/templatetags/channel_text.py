"""`{{ message|message_html }}`: a message's text with its channel formatting (bold, italic,
code, links from Telegram entities), escaped everywhere else. Line breaks kept."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

TAGS = {
    "bold": ("<strong>", "</strong>"),
    "italic": ("<em>", "</em>"),
    "underline": ("<u>", "</u>"),
    "strikethrough": ("<s>", "</s>"),
    "code": ("<code>", "</code>"),
    "pre": ("<pre>", "</pre>"),
    "spoiler": ('<span class="spoiler">', "</span>"),
    "blockquote": ("<blockquote>", "</blockquote>"),
}


def _link(url: str) -> str | None:
    if urlsplit(url).scheme in ("http", "https"):
        return url
    return None


def _open_close(entity: dict[str, Any], text: str) -> tuple[str, str] | None:
    kind = entity.get("type")
    if kind in TAGS:
        return TAGS[kind]
    if kind in ("url", "text_link"):
        url = entity.get("url") if kind == "text_link" else text
        if not isinstance(url, str):
            return None
        if kind == "url" and "://" not in url:
            url = "https://" + url
        safe = _link(url)
        if safe is None:
            return None
        return (
            f'<a href="{escape(safe)}" rel="noopener noreferrer nofollow" target="_blank">',
            "</a>",
        )
    return None


def render_entities(text: str, entities: Any) -> SafeString:
    """Entities are (code-point) offsets into `text`; overlapping or malformed ones are
    skipped rather than producing broken markup."""
    text = text or ""
    spans = []
    if isinstance(entities, list):
        for entity in entities:
            if not isinstance(entity, dict):
                continue
            start, length = entity.get("offset"), entity.get("length")
            if not isinstance(start, int) or not isinstance(length, int) or length <= 0:
                continue
            end = start + length
            if start < 0 or end > len(text):
                continue
            tags = _open_close(entity, text[start:end])
            if tags is not None:
                spans.append((start, end, tags))
    spans.sort(key=lambda s: (s[0], -(s[1] - s[0])))
    out: list[str] = []
    position = 0
    stack: list[tuple[int, str]] = []
    for start, end, (opening, closing) in spans:
        while stack and stack[-1][0] <= start:
            stop, tag = stack.pop()
            out.append(escape(text[position:stop]) + tag)
            position = stop
        if stack and end > stack[-1][0]:
            continue  # crosses an open entity: not nestable, shown plain
        out.append(escape(text[position:start]) + opening)
        position = start
        stack.append((end, closing))
    while stack:
        stop, tag = stack.pop()
        out.append(escape(text[position:stop]) + tag)
        position = stop
    out.append(escape(text[position:]))
    return mark_safe("".join(out).replace("\n", "<br>"))  # noqa: S308 - every text part escaped


@register.filter
def message_html(message: Any) -> SafeString:
    return render_entities(getattr(message, "body", ""), getattr(message, "entities", None))
