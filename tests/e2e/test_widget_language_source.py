"""The widget tells the server how firmly it knows the visitor's language: the host page's
`SmartdeskSettings.language` is set on purpose (it outranks a messenger's word), the browser's
`navigator.language` is a guess (it only fills an empty language) — customers.languages."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from chats.models import Inbox
from customers.models import Customer, LanguageSource
from tests.e2e.test_inbox import in_thread
from tests.e2e.test_widget import host_site, widget, widget_inbox  # noqa: F401

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators"),
]


def _write_from_an_english_browser(browser: Browser, url: str) -> tuple[str, int]:
    context = browser.new_context(locale="en-US")
    visitor = context.new_page()
    try:
        visitor.goto(url)
        visitor.get_by_role("button", name="Chat with us").click()
        box = visitor.get_by_role("textbox", name="Your message")
        box.fill("Hello!")
        box.press("Enter")
        expect(widget(visitor).locator("li.customer")).to_have_text("Hello!")
        return in_thread(lambda: Customer.objects.values_list("language", "language_source").get())
    finally:
        context.close()


def test_the_host_pages_language_is_sent_as_set_on_purpose(
    browser: Browser,
    host_site: dict[str, Any],  # noqa: F811
    widget_inbox: Inbox,  # noqa: F811
) -> None:
    settings = b"<script>window.SmartdeskSettings = {language: 'ru'};</script>"
    host_site["html"] = host_site["html"].replace(b"<body>", b"<body>" + settings)

    stored = _write_from_an_english_browser(browser, host_site["url"])

    assert stored == ("ru", LanguageSource.EXPLICIT)


def test_the_browsers_language_is_sent_as_a_guess(
    browser: Browser,
    host_site: dict[str, Any],  # noqa: F811
    widget_inbox: Inbox,  # noqa: F811
) -> None:
    stored = _write_from_an_english_browser(browser, host_site["url"])

    assert stored == ("en", LanguageSource.HINT)
