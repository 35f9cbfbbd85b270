"""A pseudo-locale that makes untranslated text visible.

`build(directory)` writes a catalogue for the language `PSEUDO` in which every string that a
Russian user gets translated is its msgid wrapped in markers: "Inbox" -> "⟦Inbox⟧". The strings
are read from the compiled Russian catalogues that are actually served: the project's
(locale/ru), Django's and every installed app's (the admin, auth, axes...). An entry the
Russian catalogue does not translate is left out, so it shows bare in the pseudo-locale, as it
would in Russian. Placeholders (%(name)s, %s, {name}) and HTML stay inside the markers, so
interpolation and markup work as in any language.

A page rendered in `PSEUDO` therefore has every translated piece of text inside ⟦…⟧, and
`leftovers(items)` returns what is outside: text that never went through the catalogue
(hard-coded in a template, in Python, in JavaScript) or that Russian does not translate.

Why a real language code: Django only activates languages it knows (LANG_INFO). Armenian
("hy") is used because Django ships no format module for it (dates and numbers follow the
project's settings, no literal words in formats) and its own catalogue is in Armenian script,
so nothing Django translates into Armenian but not into Russian can pass for English.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polib
from django.apps import apps
from django.conf import settings
from django.test import override_settings
from django.utils.translation import trans_real
from playwright.sync_api import BrowserContext, Page

PSEUDO = "hy"
SOURCE = "ru"  # the language whose coverage is checked
OPEN, CLOSE = "⟦", "⟧"

# Latin letters, i.e. English (or any other Latin-script text) outside the markers.
# (Latin-1 and Extended-A/B letters, without the signs × and ÷ that sit among them.)
_LETTER = "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f"
LATIN = re.compile(f"[{_LETTER}]+(?:['’.\\-][{_LETTER}]+)*")


def _wrap(text: str) -> str:
    return f"{OPEN}{text}{CLOSE}" if text else text


def _russian_catalogues(domain: str) -> list[Path]:
    """The compiled Russian catalogues Django would load, lowest priority first."""
    import django

    roots = [Path(django.__file__).parent / "conf" / "locale"]
    roots += [Path(config.path) / "locale" for config in reversed(list(apps.get_app_configs()))]
    roots += [Path(p) for p in settings.LOCALE_PATHS]
    found = [root / SOURCE / "LC_MESSAGES" / f"{domain}.mo" for root in roots]
    return [path for path in found if path.is_file()]


def _pending() -> list[Path]:
    """Translations not merged into locale/ru yet, to see what they would fix: the .po files
    named in $SMARTDESK_PSEUDO_EXTRA_PO (separated by os.pathsep). Unset in CI."""
    named = os.environ.get("SMARTDESK_PSEUDO_EXTRA_PO", "")
    return [Path(p) for p in named.split(os.pathsep) if p]


def _wrapped(entry: polib.MOEntry | polib.POEntry) -> polib.MOEntry | None:
    """The pseudo entry for a Russian one; None if Russian does not translate it."""
    if not entry.msgid or "fuzzy" in getattr(entry, "flags", ()):
        return None
    if entry.msgid_plural:
        if not all(entry.msgstr_plural.values()):
            return None
        return polib.MOEntry(
            msgctxt=entry.msgctxt,
            msgid=entry.msgid,
            msgid_plural=entry.msgid_plural,
            msgstr_plural={0: _wrap(entry.msgid), 1: _wrap(entry.msgid_plural)},
        )
    if not entry.msgstr:
        return None
    return polib.MOEntry(msgctxt=entry.msgctxt, msgid=entry.msgid, msgstr=_wrap(entry.msgid))


def build(directory: Path) -> Path:
    """Write <directory>/<PSEUDO>/LC_MESSAGES/django.mo and djangojs.mo (the admin's scripts
    read theirs through its JavaScript catalogue); return `directory`, a locale path."""
    target = directory / PSEUDO / "LC_MESSAGES"
    target.mkdir(parents=True, exist_ok=True)
    for domain in ("django", "djangojs"):
        sources = [polib.mofile(str(path)) for path in _russian_catalogues(domain)]
        if domain == "django":
            sources += [polib.pofile(str(path)) for path in _pending()]
        entries: dict[tuple[str | None, str], polib.MOEntry] = {}
        for source in sources:
            for entry in source:
                wrapped = _wrapped(entry)
                if wrapped is not None:
                    entries[(entry.msgctxt, entry.msgid)] = wrapped
        catalogue = polib.MOFile()
        catalogue.metadata = {
            "Content-Type": "text/plain; charset=UTF-8",
            "Language": PSEUDO,
            "Plural-Forms": "nplurals=2; plural=(n != 1);",
        }
        catalogue.extend(entries.values())
        catalogue.save(str(target / f"{domain}.mo"))
    return directory


def _reset_translation_caches() -> None:
    # override_settings' setting_changed handler clears these too; done here as well so that a
    # catalogue loaded before the override (e.g. by another test) can never be served.
    trans_real._translations = {}
    trans_real._default = None
    for cached in ("check_for_language", "get_languages", "get_supported_language_variant"):
        clear = getattr(getattr(trans_real, cached), "cache_clear", None)
        if clear is not None:
            clear()


@contextmanager
def activated(locale_dir: Path) -> Iterator[None]:
    """The pseudo-locale is a language the site offers, with its catalogue first in line."""
    # Its name is shown in the language pickers: marked like a translated string.
    languages = [*settings.LANGUAGES, (PSEUDO, f"{OPEN}Pseudo{CLOSE}")]
    with override_settings(
        LOCALE_PATHS=[str(locale_dir), *map(str, settings.LOCALE_PATHS)], LANGUAGES=languages
    ):
        _reset_translation_caches()
        try:
            yield
        finally:
            _reset_translation_caches()
    _reset_translation_caches()


# --- finding what is outside the markers --------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One piece of text on a page: a text node (kind "text", read in document order, so a
    translation that contains markup and spans several nodes is matched across them) or an
    attribute people read (kind "title", "aria-label", ...)."""

    where: str
    kind: str
    text: str


def _masked(texts: list[str]) -> list[str]:
    """Each text with what lies inside matched ⟦…⟧ pairs (across the texts) blanked out. An
    unmatched marker (a translation cut by truncation, say) is ignored, so it cannot hide the
    rest of the page."""
    joined = "\x00".join(texts)
    keep = [True] * len(joined)
    stack: list[int] = []
    for i, char in enumerate(joined):
        if char == OPEN:
            stack.append(i)
        elif char == CLOSE and stack:
            start = stack.pop()
            if not stack:
                for j in range(start, i + 1):
                    if joined[j] != "\x00":
                        keep[j] = False
    out = "".join(c if k else " " for c, k in zip(joined, keep, strict=True))
    return out.split("\x00")


@dataclass(frozen=True)
class Finding:
    """Latin words left in one item."""

    where: str
    kind: str
    words: str
    text: str

    def __str__(self) -> str:
        shown = " ".join(self.text.split())[:160]
        return f"{self.where} [{self.kind}]: {self.words!r} in {shown!r}"


def leftovers(
    items: Iterable[Item], *, data: Iterable[str] = (), allowed: Iterable[str] = ()
) -> list[Finding]:
    """Every item that still has Latin letters once the translated text, the test's own data
    and the allowed names are taken out."""
    items = list(items)
    strip = sorted({d for d in (*data, *allowed) if d and d.strip()}, key=len, reverse=True)
    patterns = [
        re.compile(r"(?<![A-Za-z])" + re.escape(s) + r"(?![A-Za-z])", re.IGNORECASE) for s in strip
    ]
    texts = [i for i in items if i.kind == "text"]
    masked = dict(zip(map(id, texts), _masked([i.text for i in texts]), strict=True))
    found = []
    for item in items:
        rest = masked[id(item)] if item.kind == "text" else _masked([item.text])[0]
        for pattern in patterns:
            rest = pattern.sub(" ", rest)
        words = LATIN.findall(rest)
        if words:
            found.append(Finding(item.where, item.kind, " ".join(words), item.text))
    return found


def report(found: dict[Finding, list[str]], *, per_place: int = 3) -> str:
    """One line per finding with the pages it is on; a list that repeats in one place (the
    options of a select) is cut to its first few."""
    lines: list[str] = []
    shown: dict[tuple[str, str], int] = {}
    for finding, pages in found.items():
        place = (finding.where, finding.kind)
        shown[place] = shown.get(place, 0) + 1
        if shown[place] <= per_place:
            lines.append(f"{finding}  <- {', '.join(dict.fromkeys(pages))}")
    for (where, kind), count in shown.items():
        if count > per_place:
            lines.append(f"{where} [{kind}]: ... and {count - per_place} more like it")
    return f"{len(found)} untranslated texts:\n" + "\n".join(lines)


class Reader:
    """Reads the pages opened in one browser context and collects, per finding, the pages that
    show it; `report()` says it all at once."""

    def __init__(
        self,
        context: BrowserContext,
        base_url: str,
        *,
        data: Iterable[str],
        allowed: Iterable[str],
        ignored: Iterable[str],
    ) -> None:
        self.context = context
        self.base_url = base_url
        self.page: Page = context.new_page()
        self.data, self.allowed, self.ignored = list(data), list(allowed), tuple(ignored)
        self.found: dict[Finding, list[str]] = {}
        self.world: dict[str, Any] = {}

    def check(self, name: str) -> None:
        """Everything the page shows now, outside the pseudo-locale's markers."""
        items = [Item(**item) for item in self.page.evaluate(HARVEST_JS)]
        assert items, f"{name}: nothing read from the page"
        for finding in leftovers(items, data=self.data, allowed=self.allowed):
            if not finding.where.startswith(self.ignored):
                where = f"{name} ({self.page.url.removeprefix(self.base_url)})"
                self.found.setdefault(finding, []).append(where)

    def report(self) -> str:
        return report(self.found)


# Collects every piece of text a person reads or hears on the page, shadow roots included
# (the widget draws itself in one): text nodes (hidden ones too: a closed dialog opens later),
# attributes read aloud or shown, the value of buttons, and the strings the page hands to its
# scripts (shown later, e.g. on a socket event): JSON in a script element or a data-* attribute,
# or a data-* attribute with words in it. Not collected: scripts and styles,
# <code>/<kbd>/<samp>/<pre> (code to copy, key names: not language), and the content of a
# <textarea>: what a form is editing is stored data (a role's description as the business
# wrote it), not the product's text; its label and help are collected like any text.
HARVEST_JS = r"""
() => {
  const SKIP = new Set(["SCRIPT", "STYLE", "TEMPLATE", "NOSCRIPT", "CODE", "KBD", "SAMP", "PRE",
                        "TEXTAREA"]);
  const ATTRS = ["title", "aria-label", "aria-description", "aria-roledescription",
                 "aria-placeholder", "aria-valuetext", "placeholder", "alt", "label"];
  // data-* attributes with codes in them, separated by spaces (not text).
  const MACHINE_DATA = new Set(["data-allergens"]);
  // In such JSON, names and prefixes ("#profile", "call_id") are not text.
  const IDENTIFIER = /^[#.]?[a-z0-9_-]+$/;
  const items = [];
  const where = (el) => {
    const parts = [];
    for (let n = el; n && n.nodeType === 1 && parts.length < 4; n = n.parentElement) {
      let s = n.tagName.toLowerCase();
      if (n.id) { parts.unshift(s + "#" + n.id); break; }
      const cls = (n.getAttribute("class") || "").trim().split(/\s+/).filter(Boolean)[0];
      if (cls) s += "." + cls;
      parts.unshift(s);
    }
    return parts.join(" > ");
  };
  const strings = (value, out) => {
    if (typeof value === "string") out.push(value);
    else if (value && typeof value === "object")
      Object.values(value).forEach((v) => strings(v, out));
    return out;
  };
  const walk = (root) => {
    for (const node of root.childNodes) {
      if (node.nodeType === 3) {
        if (node.nodeValue.trim())
          items.push({where: where(node.parentElement), kind: "text", text: node.nodeValue});
        continue;
      }
      if (node.nodeType !== 1) continue;
      if (node.tagName === "SCRIPT" && node.type === "application/json") {
        try {
          strings(JSON.parse(node.textContent), []).forEach((s) =>
            items.push({where: where(node), kind: "json", text: s}));
        } catch (e) { /* not ours */ }
        continue;
      }
      if (SKIP.has(node.tagName)) continue;
      for (const name of ATTRS) {
        const v = node.getAttribute(name);
        if (v && v.trim()) items.push({where: where(node), kind: name, text: v});
      }
      // Texts a script shows later (data-failed="…", data-state-labels='{"ringing": "…"}'):
      // a data-* value with words in it (a space) or a JSON object; not URLs and codes.
      for (const attr of node.attributes) {
        if (!attr.name.startsWith("data-") || MACHINE_DATA.has(attr.name)) continue;
        const v = attr.value.trim();
        if (v.startsWith("{")) {
          try {
            strings(JSON.parse(v), []).filter((s) => !IDENTIFIER.test(s)).forEach((s) =>
              items.push({where: where(node), kind: attr.name, text: s}));
          } catch (e) { /* not JSON */ }
        } else if (/\s/.test(v) && !/^(\/|https?:)/.test(v)) {
          items.push({where: where(node), kind: attr.name, text: v});
        }
      }
      const isButton = ["button", "submit", "reset"].includes(node.type);
      if (node.tagName === "INPUT" && isButton && node.value)
        items.push({where: where(node), kind: "value", text: node.value});
      if (node.shadowRoot) walk(node.shadowRoot);
      walk(node);
    }
  };
  items.push({where: "document", kind: "title", text: document.title});
  walk(document.body);
  return items;
}
"""
