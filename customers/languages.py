"""The customer's language: what the channels tell us, stored in one form, and the language
we speak to the customer in.

- Stored as a bare language code Django knows (`ru`, `en`, `uk`…), without the region:
  Telegram's `ru-RU`, a browser's `en-GB` and a back office's `RU` all arrive in one form.
- A channel that says nothing (or something that is not a language) changes nothing: an
  empty or unknown value never overwrites a known one.
- Sources are ranked (`LanguageSource`): HINT (a browser's `navigator.language` or
  Accept-Language: a guess) < CHANNEL (what a messenger or the app declares: Telegram's
  `language_code`, the app's `language`) < EXPLICIT (set by a person or the business: the
  back office, the customer admin, the channel API's `customer.language`, the host page's
  `SmartdeskSettings.language`). A language replaces the stored one only from a source ranked
  at least as high: among equals the latest word wins, a hint only fills an empty language
  (or replaces another hint). A Russian customer on an English work browser stays Russian.
- `customer_locale` is the language of what we send the customer (CSAT, widget texts): their
  own when the product speaks it, else the site's default.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.conf.locale import LANG_INFO
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.models import Customer, LanguageSource

_CODE = re.compile(r"[a-z]{2,3}")


def _known(code: str) -> bool:
    return code in LANG_INFO or any(key.startswith(code + "-") for key in LANG_INFO)


def language_normalise(raw: Any) -> str:
    """`ru-RU`, `RU`, `ru_RU` -> `ru`; "" for anything that is not a known language."""
    if not isinstance(raw, str):
        return ""
    base = raw.strip().replace("_", "-").lower().split("-", 1)[0]
    if not _CODE.fullmatch(base) or not _known(base):
        return ""
    return base


def language_validate(raw: Any) -> str:
    """The stored form of a language an API caller sends; "" stays "" (nothing said).
    Raises ValueError with a message for the caller when it is not a language."""
    if raw in (None, ""):
        return ""
    code = language_normalise(raw)
    if not code:
        raise ValueError(
            _("Not a language code: use one like “ru” or “en-GB” (the region is dropped).")
        )
    return code


def customer_language_set(*, customer: Customer, language: Any, source: int) -> bool:
    """Store what `source` (a `LanguageSource`) says the customer's language is. True if it
    changed. The rule, for every channel: only a known language; only from a source ranked at
    least as high as the stored one's (anything fills an empty language); and only if that
    changes the language or firms up its source. Decided in the UPDATE itself, so a stale
    `customer` object (a session's) cannot overwrite a firmer language stored meanwhile; the
    object is brought up to date either way."""
    code = language_normalise(language)
    if not code:
        return False
    source = LanguageSource(source)
    changed = (
        Customer.objects.filter(pk=customer.pk)
        .filter(Q(language="") | Q(language_source__lte=source))
        .exclude(language=code, language_source__gte=source)
        .update(language=code, language_source=source, updated_at=timezone.now())
    )
    if changed:
        customer.language, customer.language_source = code, source
    else:
        stored = Customer.objects.filter(pk=customer.pk).values("language", "language_source")
        for row in stored[:1]:
            customer.language, customer.language_source = row["language"], row["language_source"]
    return bool(changed)


def customer_locale(customer: Customer | None) -> str:
    """The language to speak to this customer in: theirs if the product speaks it."""
    code = language_normalise(getattr(customer, "language", ""))
    supported = {lang for lang, _name in settings.LANGUAGES}
    return code if code in supported else settings.LANGUAGE_CODE


def language_label(code: str) -> str:
    """The language's name in the active (the operator's) language: "Russian", "Русский".
    A code Django does not know is shown as it is."""
    if not code:
        return ""
    base = language_normalise(code)
    variants = sorted(key for key in LANG_INFO if base and key.startswith(base + "-"))
    for key in (code, code.lower(), base, *variants[:1]):
        info = LANG_INFO.get(key)
        if info is not None and "fallback" in info:
            info = LANG_INFO.get(info["fallback"][0])
        if info is not None and "name" in info:
            return _(info["name"])
    return code
