"""The widget speaks the visitor's language end to end: a browser set to Russian gets the
widget in Russian, its language is stored on the customer, the rating request after the
close is asked in Russian, and a network failure is worded in Russian, not the browser's
"Failed to fetch"."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from accounts.models import User
from chats.models import Inbox, Message
from chats.services.conversations import conversation_close
from customers.models import Customer
from tests.e2e.test_inbox import in_thread
from tests.e2e.test_widget import host_site, widget, widget_inbox  # noqa: F401

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators"),
]


def test_a_russian_browser_gets_the_rating_and_the_network_error_in_russian(
    browser: Browser,
    host_site: dict[str, Any],  # noqa: F811
    widget_inbox: Inbox,  # noqa: F811
    operator: User,
) -> None:
    context = browser.new_context(locale="ru-RU")
    visitor = context.new_page()
    try:
        visitor.goto(host_site["url"])
        visitor.get_by_role("button", name="Напишите нам").click()
        expect(widget(visitor).locator(".sd")).to_have_attribute("lang", "ru")
        box = visitor.get_by_role("textbox", name="Ваше сообщение")
        box.fill("Здравствуйте! Где мой заказ?")
        box.press("Enter")
        expect(widget(visitor).locator("li.customer")).to_have_text("Здравствуйте! Где мой заказ?")
        expect(widget(visitor)).to_have_attribute("data-live", "live")
        assert in_thread(lambda: Customer.objects.get().language) == "ru"

        # The operator (working in English) closes it: the visitor is asked in Russian.
        def close() -> None:
            conversation = Message.objects.get().conversation
            conversation_close(conversation=conversation, actor=operator)

        in_thread(close)
        rating = widget(visitor).get_by_role("group")
        expect(rating).to_be_visible()
        expect(rating).to_contain_text("Как мы справились?")
        expect(rating.get_by_role("button", name="Оценка 4 из 5")).to_be_visible()

        # The network drops: the visitor reads why in Russian, and the text stays typed.
        context.set_offline(True)
        box.fill("Алло?")
        box.press("Enter")
        status = widget(visitor).locator("p.status")
        expect(status).to_have_text("Нет связи. Проверьте интернет и попробуйте ещё раз.")
        expect(status).not_to_contain_text("Failed to fetch")
        expect(box).to_have_value("Алло?")
    finally:
        context.close()
