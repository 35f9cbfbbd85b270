"""The untranslated-text detector itself (tests/e2e/pseudo_locale.py): the pseudo catalogue wraps
what Russian translates and nothing else, and the page reader finds English wherever a person
would read it (text, attributes, shadow roots, strings handed to scripts) but not inside the
markers, in code, or in the test's own data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.utils import translation
from playwright.sync_api import Browser

from tests.e2e import pseudo_locale
from tests.e2e.pseudo_locale import PSEUDO, Item, leftovers


@pytest.fixture(scope="module")
def locale_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return pseudo_locale.build(tmp_path_factory.mktemp("pseudo-locale"))


@pytest.fixture
def pseudo(locale_dir: Path) -> Iterator[None]:
    with pseudo_locale.activated(locale_dir), translation.override(PSEUDO):
        yield


def test_the_pseudo_catalogue_wraps_what_russian_translates(pseudo: None) -> None:
    # ours (locale/ru), Django's own (forms, dates), the admin's
    assert translation.gettext("Inbox") == "⟦Inbox⟧"
    assert translation.gettext("This field is required.") == "⟦This field is required.⟧"
    assert translation.gettext("Site administration") == "⟦Site administration⟧"
    assert translation.pgettext("abbrev. month", "Jan.") == "⟦Jan.⟧"
    assert translation.ngettext("%(num)d minute", "%(num)d minutes", 3) == "⟦%(num)d minutes⟧"
    # a string Russian does not translate stays bare, as a Russian user would see it
    assert translation.gettext("Not a string of this project") == "Not a string of this project"


def test_text_outside_the_markers_is_found_and_data_and_names_are_not() -> None:
    items = [
        Item("h1", "text", "⟦Inbox⟧ Smartdesk"),
        Item("p", "text", "⟦Hello <a href='/'>"),  # a translation with markup spans two nodes
        Item("a", "text", "there</a>⟧ anna"),
        Item("button", "aria-label", "Close"),
        Item("li", "text", "1 × Ролл · ⟦Sent⟧ 12:00"),
        Item("td", "text", "…⟦Cut by truncatechars"),  # an unmatched marker hides nothing
    ]

    found = leftovers(items, data=["anna"], allowed=["Smartdesk"])

    assert [(f.where, f.kind, f.words) for f in found] == [
        ("button", "aria-label", "Close"),
        ("td", "text", "Cut by truncatechars"),
    ]


PAGE = """<!doctype html><html><head><title>⟦Inbox⟧ · Stats</title></head><body>
<h1>⟦Queue⟧</h1>
<p>⟦Press <kbd>e</kbd> to close⟧ and <code>curl https://x</code></p>
<p hidden>Hidden but shown later</p>
<input type="submit" value="Go">
<img alt="⟦Logo⟧" src="data:,">
<input placeholder="Search…">
<button data-failed="The call failed" data-url="/a b/" data-state="ringing"
        data-labels='{"ringing": "⟦Ringing⟧", "ended": "Ended", "prefix": "#call_id"}'
        >⟦Call⟧</button>
<script type="application/json" id="strings">{"a": "⟦Live⟧", "b": {"c": "Offline"}}</script>
<div id="host"></div>
<script>
  const root = document.getElementById("host").attachShadow({mode: "open"});
  root.innerHTML = "<button title='⟦Send⟧'>⟦Send⟧</button><p class='status'>Failed to fetch</p>";
</script>
</body></html>"""


def test_the_page_reader_finds_english_wherever_people_read_it(browser: Browser) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_content(PAGE)
        items = [Item(**item) for item in page.evaluate(pseudo_locale.HARVEST_JS)]
    finally:
        context.close()

    found = {(f.kind, f.words) for f in leftovers(items)}

    assert found == {
        ("title", "Stats"),
        ("text", "Hidden but shown later"),
        ("value", "Go"),
        ("placeholder", "Search"),
        ("json", "Offline"),
        ("data-failed", "The call failed"),
        ("data-labels", "Ended"),
        ("text", "Failed to fetch"),  # inside the shadow root
        ("text", "and"),
    }
