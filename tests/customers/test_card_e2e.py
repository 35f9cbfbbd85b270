"""The customer card and the composer's allergy warning in Chromium, against the real ASGI app.
Expectations auto-wait; nothing here sleeps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from accounts.models import User
from chats.models import Conversation, Inbox, Message
from customers.models import CustomerTag
from tests import factories
from tests.e2e.test_inbox import in_thread, open_live
from tests.e2e.test_login import describe, sign_in

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators"),
]


@pytest.fixture
def conversation(support_inbox: Inbox, operator: User, tiers: Any) -> Conversation:
    def build() -> Conversation:
        for n in range(3):
            order = factories.make_order(
                f"E-{n}",
                customer="crm-sv",
                total="30.00",
                items=[
                    {
                        "sku": "ROLL",
                        "name": "Salmon roll",
                        "price": "9",
                        "modifiers": ["no sesame"],
                    },
                    {"sku": "MISO", "name": "Miso soup", "price": "3"},
                ],
            )
        CustomerTag.objects.create(customer=order.customer, kind="allergen", value="sesame")
        return factories.make_conversation(
            inbox=support_inbox,
            customer=order.customer,
            text="Можно ролл без кунжута?",
            assignee=operator,
        )

    return in_thread(build)


def test_the_card_loads_and_a_reply_naming_an_allergen_waits_for_confirmation(
    live_page: Page,
    operator: User,
    conversation: Conversation,
    axe_violations: Callable[..., list[dict[str, Any]]],
) -> None:
    sign_in(live_page, "anna")
    open_live(live_page, f"/inbox/c/{conversation.pk}/")

    card = live_page.locator("#customer-card")
    expect(card.locator(".allergy")).to_have_text("Sesame")
    expect(card.locator(".order-last")).to_contain_text("Salmon roll")
    expect(card.locator(".offer").filter(has_text="Favourite: Salmon roll")).to_be_visible()
    violations = axe_violations(live_page)
    assert violations == [], describe(violations)

    composer = live_page.get_by_role("textbox", name="Reply to the customer")
    composer.fill("Shall we add a sesame bagel?")
    composer.press("Control+Enter")

    warning = live_page.get_by_role("alert").filter(has_text="allergic to sesame")
    expect(warning).to_be_visible()
    expect(live_page.locator("#thread-log li.msg-outbound")).to_have_count(0)

    live_page.get_by_role("button", name="Send anyway").click()
    expect(live_page.locator("#thread-log li.msg-outbound")).to_contain_text("sesame bagel")
    expect(warning).to_be_hidden()
    # The send's own answer has settled (it gives the message box the focus): typing sooner
    # would go into the box that answer replaces.
    expect(composer).to_be_focused()

    # leaving it out is what the customer asked for: no warning
    composer.fill("Leave out the sesame like last time?")
    composer.press("Control+Enter")
    expect(live_page.locator("#thread-log li.msg-outbound")).to_have_count(2)
    assert Message.objects.filter(kind="outbound").count() == 2

    # an offer goes into the reply with one click
    composer.fill("")
    card.locator(".offer").filter(has_text="Salmon roll").get_by_role(
        "button", name="Insert into reply"
    ).click()
    expect(composer).to_have_value(
        "Your favourite Salmon roll again? We will make sure it is just as you like it."
    )
