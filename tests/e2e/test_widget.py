"""The website widget end to end: a visitor on a customer's site (another origin, served by
its own local server) writes; the operator, in a second browser context, sees it live and
answers; the visitor sees the answer live, and after a reload the history is still there."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from accounts.models import User
from chats.models import Inbox, Message
from tests import factories
from tests.e2e.test_inbox import in_thread
from tests.e2e.test_login import sign_in

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators"),
]


@pytest.fixture
def host_site() -> Iterator[dict[str, Any]]:
    """The customer's website: one page that embeds the widget script. Its page body is set
    by the test (it needs the inbox key)."""
    site: dict[str, Any] = {"html": b""}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(site["html"])

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    site["url"] = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def widget_inbox(support, host_site: dict[str, Any], asgi_server: str) -> Inbox:
    inbox = factories.make_inbox(
        name="Сайт", kind=Inbox.Kind.WIDGET, team=support, allowed_origins=host_site["url"]
    )
    host_site["html"] = (
        "<!doctype html><html lang='ru'><head><title>Shop</title></head><body><h1>Shop</h1>"
        f"<script src='{asgi_server}/widget/{inbox.key}.js'></script></body></html>"
    ).encode()
    return inbox


def widget(page: Page):
    return page.locator("#smartdesk-widget")


def test_a_visitor_and_an_operator_talk_live_and_the_history_survives_a_reload(
    browser: Browser,
    live_page: Page,
    host_site: dict[str, Any],
    widget_inbox: Inbox,
    operator: User,
) -> None:
    visitor_context = browser.new_context(locale="ru-RU")
    visitor = visitor_context.new_page()
    try:
        visitor.goto(host_site["url"])
        visitor.get_by_role("button", name="Chat with us").click()
        box = visitor.get_by_role("textbox", name="Your message")
        box.fill("Здравствуйте! Есть доставка за МКАД?")
        box.press("Enter")
        expect(widget(visitor).locator("li.customer")).to_have_text(
            "Здравствуйте! Есть доставка за МКАД?"
        )
        expect(widget(visitor)).to_have_attribute("data-live", "live")

        # The operator sees it in the team queue, answers from the thread.
        sign_in(live_page, "anna")
        live_page.goto("/inbox/?view=queue")
        expect(live_page.locator("#workspace")).to_have_attribute("data-live", "live")
        conversation = Message.objects.get().conversation
        row = live_page.locator(f"#list li[data-conversation-id='{conversation.pk}']")
        expect(row).to_contain_text("Есть доставка за МКАД?")
        live_page.goto(f"/inbox/c/{conversation.pk}/")
        expect(live_page.locator("#thread-log")).to_contain_text("via website widget")
        composer = live_page.locator("#composer-body")
        composer.fill("Да, до 10 км, 300 ₽.")
        composer.press("Control+Enter")
        expect(live_page.locator("#thread-log li.msg-outbound")).to_contain_text("Sent")

        # ...and the visitor sees the answer without reloading.
        expect(widget(visitor).locator("li.operator")).to_contain_text("Да, до 10 км, 300 ₽.")

        visitor.reload()
        visitor.get_by_role("button", name="Chat with us").click()
        log = widget(visitor).locator("ol.log li")
        expect(log).to_have_count(2)
        expect(log.nth(0)).to_have_text("Здравствуйте! Есть доставка за МКАД?")
        expect(log.nth(1)).to_contain_text("Да, до 10 км, 300 ₽.")

        # The host site signs the visitor out: the widget forgets them on this browser.
        visitor.evaluate("() => window.Smartdesk.reset()")
        expect(log).to_have_count(0)
        stored = visitor.evaluate(
            f"() => localStorage.getItem('smartdesk:{widget_inbox.key}:token')"
        )
        assert stored is None
    finally:
        visitor_context.close()


def test_an_identify_with_a_wrong_hmac_is_refused(
    browser: Browser, host_site: dict[str, Any], widget_inbox: Inbox
) -> None:
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(host_site["url"])
        expect(widget(page)).to_have_count(1)
        status = page.evaluate(
            """() => window.Smartdesk
                   .identify({email: 'ivan@example.com', signature: '00'.repeat(32)})
                   .then(() => 'accepted', (error) => error.status)"""
        )
        assert status == 403
        reset = page.evaluate("() => { window.Smartdesk.reset(); return 'done'; }")
        assert reset == "done"
        assert in_thread(lambda: factories.Customer.objects.count()) == 0
    finally:
        context.close()
