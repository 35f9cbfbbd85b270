"""In Chromium against the real ASGI app: the call's status on the screen-pop's card follows
the call. It said "In the queue" while the phone rang and kept saying it after the operator
answered and after the hang-up; the live `call.*` events now carry the state and the card
shows it in the page's language."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from accounts.models import User
from telephony.models import Call, Pbx
from telephony.services import call_event_apply
from tests import factories
from tests.e2e.conftest import asgi_server, browser, live_page, playwright  # noqa: F401
from tests.e2e.test_inbox import in_thread, open_live
from tests.e2e.test_login import sign_in
from tests.telephony.simulator import queue_call

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    # WhiteNoise hands static files to Django's ASGI handler as a synchronous iterator.
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators"),
]

CALLER = "+79161234567"


def _apply(pbx: Pbx, events: list[dict[str, object]]) -> None:
    def run() -> None:
        for fields in events:
            call_event_apply(pbx_id=pbx.pk, fields={k: str(v) for k, v in fields.items()})

    in_thread(run)


def test_after_the_hang_up_the_card_no_longer_says_in_the_queue(
    live_page: Page,  # noqa: F811
    pbx: Pbx,
    anna: User,
) -> None:
    in_thread(lambda: factories.make_customer("Svetlana", "Orlova", phone=CALLER))
    page = live_page
    sign_in(page, "anna")
    open_live(page, "/inbox/")

    events = queue_call(caller=CALLER, linkedid="1700000300.1")
    ringing = next(i for i, e in enumerate(events) if e["Event"] == "DialBegin") + 1
    answered = next(i for i, e in enumerate(events) if e["Event"] == "AgentConnect") + 1
    hangup = next(i for i, e in enumerate(events) if e["Event"] == "AgentComplete")

    # the phone rings: the pop shows the card, the call waiting in the queue
    _apply(pbx, events[:ringing])
    dialog = page.get_by_role("dialog")
    state = dialog.locator(".call-card .call-state")
    expect(state).to_have_text("In the queue")

    # answered
    _apply(pbx, events[ringing:answered])
    expect(state).to_have_text("Answered")
    expect(page.locator("#callpop-status")).to_have_text("Answered")

    # hung up: the card says how it ended, not "In the queue"
    _apply(pbx, events[hangup:])
    assert in_thread(lambda: Call.objects.get(linkedid="1700000300.1").state) == "completed"
    expect(page.locator("#callpop-status")).to_contain_text("Call ended")
    expect(state).to_have_text("Completed")
    expect(dialog.locator(".call-card")).to_have_attribute("data-call-state", "completed")
