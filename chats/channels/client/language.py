"""The language a widget or app client says, and how firmly it knows it: the client API's
`language` and `language_source` fields, and Accept-Language as the last resort. The ranking
itself lives in customers.languages."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.request import Request

from chats.models import Inbox
from customers.languages import language_normalise
from customers.models import LanguageSource


class LanguageField(serializers.CharField):
    """The customer's language as the browser or the app says it (`ru`, `ru-RU`), without
    the region. A string that is no language we know says nothing (a browser set to an
    exotic tag must still chat); a value that is not a string is a 400."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", "The customer's language, e.g. `ru` or `en-GB`.")
        super().__init__(required=False, allow_blank=True, max_length=35, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        return language_normalise(super().to_internal_value(data))


# How firmly the client knows the `language` it sends (customers.languages ranks them).
LANGUAGE_SOURCES = {"page": LanguageSource.EXPLICIT, "browser": LanguageSource.HINT}


def language_source_field() -> serializers.ChoiceField:
    return serializers.ChoiceField(
        choices=sorted(LANGUAGE_SOURCES),
        required=False,
        help_text="Where `language` comes from: `page` — set on purpose (the host page's "
        "`SmartdeskSettings.language`, the app's own setting); `browser` — the browser's "
        "guess. Left out: a guess from the widget, the app's word from the mobile app. A "
        "guess never replaces a language set on purpose.",
    )


def header_language(request: Request) -> str:
    """The first language of the caller's Accept-Language: what a browser or a phone says
    when the body says nothing."""
    first = request.headers.get("Accept-Language", "").split(",", 1)[0]
    return language_normalise(first.split(";", 1)[0])


def said_language(
    inbox: Inbox, data: dict[str, Any], request: Request | None = None
) -> tuple[str, LanguageSource]:
    """The language the client says and how firmly: `language_source` if given; else the
    widget's is a browser's guess and the app's a channel's word. Without one in the body,
    Accept-Language (when `request` is given) is a guess."""
    language = data.get("language") or ""
    if language:
        named = data.get("language_source")
        if named:
            return language, LANGUAGE_SOURCES[named]
        if inbox.kind == Inbox.Kind.MOBILE:
            return language, LanguageSource.CHANNEL
        return language, LanguageSource.HINT
    if request is not None:
        return header_language(request), LanguageSource.HINT
    return "", LanguageSource.HINT
