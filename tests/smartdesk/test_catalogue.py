"""The Russian catalogue is complete and the compiled `.mo` matches the `.po` that is reviewed.

A string added without a translation, left fuzzy, or translated in the `.po` without
`make messages` recompiling the `.mo` fails here instead of showing English in the Russian UI.
"""

from __future__ import annotations

import ast
from pathlib import Path

from django.conf import settings
from django.utils import translation

PO = Path(settings.BASE_DIR) / "locale" / "ru" / "LC_MESSAGES" / "django.po"


def _entries(path: Path) -> list[dict]:
    """The entries of a `.po` file: msgctxt, msgid, msgid_plural, msgstr (list) and flags."""
    entries: list[dict] = []
    current: dict = {}
    field = None

    def close() -> None:
        if "msgid" in current:
            entries.append(dict(current))
        current.clear()

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line:
            close()
            field = None
        elif line.startswith("#~"):
            current["obsolete"] = True
        elif line.startswith("#,"):
            current.setdefault("flags", set()).update(f.strip() for f in line[2:].split(","))
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            if field == "msgstr":
                current["msgstr"][-1] += ast.literal_eval(line)
            else:
                current[field] += ast.literal_eval(line)
        else:
            keyword, _, value = line.partition(" ")
            if keyword.startswith("msgstr"):
                field = "msgstr"
                current.setdefault("msgstr", []).append(ast.literal_eval(value))
            else:
                if keyword == "msgid" and "msgid" in current and "msgstr" in current:
                    close()
                field = keyword
                current[keyword] = ast.literal_eval(value)
    close()
    return [e for e in entries if e.get("msgid") and not e.get("obsolete")]


def test_every_russian_entry_is_translated_and_not_fuzzy() -> None:
    entries = _entries(PO)
    assert len(entries) > 100  # the parser read the catalogue

    untranslated = [e["msgid"] for e in entries if not all(e["msgstr"])]
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e.get("flags", ())]

    assert untranslated == []
    assert fuzzy == []


def test_the_compiled_catalogue_serves_what_the_po_file_says() -> None:
    stale = []
    with translation.override("ru"):
        for entry in _entries(PO):
            if "msgid_plural" in entry or "%" in entry["msgid"] or "{" in entry["msgid"]:
                continue
            if "msgctxt" in entry:
                served = translation.pgettext(entry["msgctxt"], entry["msgid"])
            else:
                served = translation.gettext(entry["msgid"])
            if served != entry["msgstr"][0]:
                stale.append(entry["msgid"])

    assert stale == []
