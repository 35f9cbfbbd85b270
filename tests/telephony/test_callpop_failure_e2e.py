"""In Chromium against the real ASGI app: a click-to-call that fails tells the operator why, in
the page's words, next to the button they clicked (the live `call.failed` event)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from accounts.models import User
from chats.models import Inbox
from telephony.models import Call, Pbx
from tests import factories
from tests.e2e.conftest import asgi_server, browser, live_page, playwright  # noqa: F401
from tests.e2e.test_inbox import in_thread, open_live
from tests.e2e.test_login import sign_in

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    # WhiteNoise hands static files to Django's ASGI handler as a synchronous iterator.
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators"),
]


def test_a_click_to_call_the_pbx_cannot_place_says_why_by_the_button(
    live_page: Page,  # noqa: F811
    pbx: Pbx,
    anna: User,
    support_inbox: Inbox,
) -> None:
    # the PBX's AMI port is closed (the fixture's port 1): the Originate cannot be sent
    def make() -> int:
        customer = factories.make_customer("Svetlana", phone="+79161234567")
        return factories.make_conversation(inbox=support_inbox, customer=customer, assignee=anna).pk

    conversation_id = in_thread(make)
    page = live_page
    sign_in(page, "anna")
    open_live(page, f"/inbox/c/{conversation_id}/")

    page.get_by_role("button", name="Call the customer").click()

    expect(page.locator(".call-dial-result")).to_have_text(
        "The telephone exchange could not place the call: try again, or ask an admin."
    )
    assert in_thread(lambda: Call.objects.get().state) == Call.State.FAILED
