"""Words typed while a reply is on its way are kept: the send's answer (the fresh thread,
with an empty message box) replaces the box, and used to take whatever the operator had
typed after pressing Send with it. The send is held at the network until the typing is done,
so the order is certain; nothing sleeps."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, Route, expect

from accounts.models import User
from chats.models import Conversation, Inbox, Message
from tests import factories
from tests.e2e.test_inbox import in_thread, open_live
from tests.e2e.test_login import sign_in

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators"),
]


@pytest.fixture
def conversation(support_inbox: Inbox, operator: User) -> Conversation:
    return in_thread(
        lambda: factories.make_conversation(
            inbox=support_inbox, text="Where is my order?", assignee=operator
        )
    )


def _hold_sends(page: Page, conversation: Conversation) -> list[Route]:
    held: list[Route] = []

    def hold(route: Route) -> None:
        held.append(route)  # answered later, by the test

    page.route(re.compile(rf"/inbox/c/{conversation.pk}/send/"), hold)
    return held


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        # Typed on after the sent text, which stays in the box until the answer comes.
        (" Also: it ships today.", "Also: it ships today."),
        # The box emptied and a new message begun.
        (None, "A second thought"),
    ],
)
def test_what_is_typed_while_a_reply_is_sent_stays_in_the_box(
    live_page: Page, conversation: Conversation, typed: str | None, kept: str
) -> None:
    page = live_page
    sign_in(page, "anna")
    open_live(page, f"/inbox/c/{conversation.pk}/")
    held = _hold_sends(page, conversation)
    composer = page.locator("#composer-body")

    composer.fill("Your parcel left the warehouse.")
    composer.press("Control+Enter")
    for _ in range(500):  # the route handler runs as Playwright's events are read: read them
        if held:
            break
        page.evaluate("0")
    assert len(held) == 1, "the send never left the page"
    if typed is None:
        composer.fill(kept)
    else:
        composer.press("End")
        composer.press_sequentially(typed)
    held[0].continue_()

    outbound = page.locator("#thread-log li.msg-outbound")
    expect(outbound).to_have_count(1)
    expect(outbound).to_contain_text("Your parcel left the warehouse.")
    expect(composer).to_have_value(kept)
    sent = in_thread(
        lambda: list(
            Message.objects.filter(conversation=conversation, kind="outbound").values_list(
                "body", flat=True
            )
        )
    )
    assert sent == ["Your parcel left the warehouse."]


def test_after_a_plain_send_the_box_is_empty(live_page: Page, conversation: Conversation) -> None:
    page = live_page
    sign_in(page, "anna")
    open_live(page, f"/inbox/c/{conversation.pk}/")
    composer = page.locator("#composer-body")
    composer.fill("Thank you for waiting.")
    composer.press("Control+Enter")
    expect(page.locator("#thread-log li.msg-outbound")).to_contain_text("Thank you for waiting.")
    expect(composer).to_have_value("")
