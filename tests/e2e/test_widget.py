"""The website widget end to end: a visitor on a customer's site (another origin, served by
its own local server) writes; the operator, in a second browser context, sees it live and
answers; the visitor sees the answer live, and after a reload the history is still there."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from accounts.models import User
from analytics import rollups, selectors
from analytics.models import CsatResponse
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
    visitor_context = browser.new_context(locale="ru-RU")  # the widget speaks Russian
    visitor = visitor_context.new_page()
    try:
        visitor.goto(host_site["url"])
        visitor.get_by_role("button", name="Напишите нам").click()
        box = visitor.get_by_role("textbox", name="Ваше сообщение")
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
        visitor.get_by_role("button", name="Напишите нам").click()
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
        assert in_thread(lambda: factories.Customer.objects.count()) == 0
    finally:
        context.close()


def test_after_the_close_the_visitor_rates_the_conversation_in_the_widget(
    browser: Browser,
    live_page: Page,
    host_site: dict[str, Any],
    widget_inbox: Inbox,
    operator: User,
) -> None:
    visitor_context = browser.new_context(locale="en-US")
    visitor = visitor_context.new_page()
    try:
        # given: a visitor's conversation that anna answered
        visitor.goto(host_site["url"])
        visitor.get_by_role("button", name="Chat with us").click()
        box = visitor.get_by_role("textbox", name="Your message")
        box.fill("Where is my order?")
        box.press("Enter")
        expect(widget(visitor)).to_have_attribute("data-live", "live")
        rating = widget(visitor).get_by_role("group")
        expect(rating).to_be_hidden()

        sign_in(live_page, "anna")
        conversation = in_thread(lambda: Message.objects.get().conversation)
        live_page.goto(f"/inbox/c/{conversation.pk}/")
        composer = live_page.locator("#composer-body")
        composer.fill("It left the warehouse today.")
        composer.press("Control+Enter")
        expect(live_page.locator("#thread-log li.msg-outbound")).to_contain_text("Sent")
        expect(widget(visitor).locator("li.operator")).to_contain_text("left the warehouse")

        # when: anna closes it, the visitor is asked for a rating on the socket
        live_page.locator("#action-close").click()
        expect(live_page.locator("#thread-status")).to_have_text("Closed")
        expect(rating).to_be_visible()
        expect(rating).to_contain_text("How did we do?")
        stars = [rating.get_by_role("button", name=f"Rate {n} of 5") for n in range(1, 6)]
        for star in stars:
            expect(star).to_have_attribute("aria-pressed", "false")

        # ...and after a reload the request is still there (asked for over the API)
        visitor.reload()
        visitor.get_by_role("button", name="Chat with us").click()
        rating = widget(visitor).get_by_role("group")
        expect(rating).to_be_visible()

        # the visitor picks 4 with the keyboard and leaves a comment
        rating.get_by_role("button", name="Rate 4 of 5").focus()
        visitor.keyboard.press("Enter")
        expect(rating.get_by_role("button", name="Rate 4 of 5")).to_have_attribute(
            "aria-pressed", "true"
        )
        expect(rating.get_by_role("button", name="Rate 5 of 5")).to_have_attribute(
            "aria-pressed", "false"
        )
        rating.get_by_role("textbox", name="Comment (optional)").fill("<b>Quick</b> & kind")
        rating.get_by_role("button", name="Send rating").click()

        # then: a thank-you, the survey gone, the answer stored on the conversation's survey
        expect(widget(visitor).get_by_role("status")).to_have_text("Thank you for your rating!")
        expect(rating).to_be_hidden()
        survey = in_thread(lambda: CsatResponse.objects.get(conversation_id=conversation.pk))
        assert (survey.rating, survey.comment) == (4, "<b>Quick</b> & kind")
        assert survey.operator_id == operator.pk and survey.answered_at is not None

        # ...and it reaches anna's figures
        def figures() -> tuple[float | None, int]:
            rollups.rollup_rebuild(now=survey.answered_at + timedelta(hours=1))
            day = selectors.Filters(
                start=survey.requested_at - timedelta(days=1),
                end=survey.requested_at + timedelta(days=1),
            )
            [row] = [r for r in selectors.operator_table(day) if r.operator_id == operator.pk]
            return row.csat_avg, row.csat_count

        assert in_thread(figures) == (4.0, 1)

        # the survey is not asked again on the next visit
        visitor.reload()
        visitor.get_by_role("button", name="Chat with us").click()
        expect(widget(visitor).locator("ol.log li")).to_have_count(2)
        expect(widget(visitor).get_by_role("group")).to_be_hidden()
    finally:
        visitor_context.close()
