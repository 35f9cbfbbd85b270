"""The screen-pop in Chromium against the real ASGI app: a call ringing the operator (driven
through `call_event_apply`, as the AMI listener does) pops the caller's card on /inbox/ before
they answer; the dialog takes focus, Escape gives it back; an unknown caller gets the one-click
create; a follow-up conversation opens from the pop. Expectations auto-wait; nothing sleeps."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from accounts.models import User
from chats.models import Conversation, Inbox
from customers.models import CustomerTag
from telephony.models import Call, Pbx
from telephony.services import call_event_apply
from tests import factories
from tests.e2e.test_inbox import in_thread, open_live
from tests.e2e.test_login import describe, sign_in
from tests.telephony.conftest import set_extension
from tests.telephony.simulator import queue_call

pytestmark = [
    pytest.mark.django_db(transaction=True),
    # WhiteNoise hands static files to Django's ASGI handler as a synchronous iterator.
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators"),
]

AxeViolations = Callable[..., list[dict[str, Any]]]
KNOWN = "+79161234567"
UNKNOWN = "+79167654321"


@pytest.fixture
def pbx(transactional_db: None) -> Pbx:
    return Pbx.objects.create(name="Main", host="127.0.0.1", port=1, username="sd", secret="s")


@pytest.fixture
def anna(operator: User) -> User:
    set_extension(operator, "PJSIP/101")
    return operator


@pytest.fixture
def svetlana(support_inbox: Inbox):
    """A known caller with an allergy, who once wrote through the support inbox."""

    def make():
        customer = factories.make_customer("Svetlana", "Orlova", phone=KNOWN)
        CustomerTag.objects.create(
            customer=customer, kind=CustomerTag.Kind.ALLERGEN, value="sesame"
        )
        return customer

    return in_thread(make)


def ring(pbx: Pbx, *, caller: str, linkedid: str) -> Call:
    """The AMI events of a queued call up to the moment Anna's phone rings (not answered)."""
    events = queue_call(caller=caller, linkedid=linkedid)
    until_ringing = next(i for i, e in enumerate(events) if e["Event"] == "DialBegin") + 1

    def apply() -> Call:
        for fields in events[:until_ringing]:
            call_event_apply(pbx_id=pbx.pk, fields={k: str(v) for k, v in fields.items()})
        return Call.objects.get(linkedid=linkedid)

    return in_thread(apply)


def pop(page: Page):
    return page.get_by_role("dialog")


def test_the_operator_sees_the_callers_card_before_answering_and_escape_closes_it(
    live_page: Page, pbx: Pbx, anna: User, svetlana, axe_violations: AxeViolations
) -> None:
    page = live_page
    sign_in(page, "anna")
    open_live(page, "/inbox/")
    search = page.locator("#search-q")
    search.focus()

    call = ring(pbx, caller=KNOWN, linkedid="1700000000.1")
    assert call.state != Call.State.ANSWERED and call.customer_id == svetlana.pk

    dialog = pop(page)
    expect(dialog).to_be_visible()
    expect(dialog).to_have_attribute("data-call-id", str(call.pk))
    expect(dialog.get_by_role("heading", level=2)).to_have_text("Incoming call: Svetlana Orlova")
    expect(page.locator("#callpop-status")).to_contain_text("Ringing")
    expect(dialog).to_be_focused()  # focus moved into the dialog
    # the customer's card, allergies first, before anyone answered
    allergies = dialog.locator(".card-allergies")
    expect(allergies).to_contain_text("Sesame", ignore_case=True)
    expect(dialog.locator("#callpop-body")).not_to_have_attribute("aria-busy", "true")
    expect(dialog.get_by_role("button", name="Open a follow-up conversation")).to_be_visible()

    violations = axe_violations(page)
    assert not violations, describe(violations)

    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(search).to_be_focused()  # focus went back where the operator was


def test_an_unknown_caller_is_announced_with_a_create_button(
    live_page: Page, pbx: Pbx, anna: User, axe_violations: AxeViolations
) -> None:
    page = live_page
    sign_in(page, "anna")
    open_live(page, "/inbox/")

    call = ring(pbx, caller=UNKNOWN, linkedid="1700000100.1")
    assert call.customer_id is None

    dialog = pop(page)
    expect(dialog).to_be_visible()
    expect(dialog).to_be_focused()
    expect(page.locator("#callpop-status")).to_contain_text("Unknown caller")
    expect(dialog.get_by_role("heading", name="Unknown caller")).to_be_visible()
    create = dialog.get_by_role("button", name="Create customer")
    expect(create).to_be_visible()
    # an unknown caller has nobody to follow up with yet
    expect(dialog.get_by_role("button", name="Open a follow-up conversation")).to_have_count(0)

    violations = axe_violations(page)
    assert not violations, describe(violations)

    dialog.get_by_label("Last name").fill("Ivanova")
    create.click()
    expect(dialog.locator(".call-result")).to_contain_text("Customer created.")
    expect(dialog.get_by_role("heading", name="Unknown caller")).to_have_count(0)
    assert in_thread(lambda: Call.objects.get(pk=call.pk).customer_id) is not None


def test_a_follow_up_conversation_opens_from_the_pop(
    live_page: Page, pbx: Pbx, anna: User, svetlana, support_inbox: Inbox, settings
) -> None:
    settings.TELEPHONY_FOLLOWUP_INBOX = support_inbox.key
    page = live_page
    sign_in(page, "anna")
    open_live(page, "/inbox/")
    call = ring(pbx, caller=KNOWN, linkedid="1700000200.1")

    button = pop(page).get_by_role("button", name="Open a follow-up conversation")
    expect(button).to_be_visible()
    button.click()

    expect(page).to_have_url(re.compile(r"/inbox/c/\d+/$"))
    conversation = in_thread(
        lambda: Conversation.objects.select_related("assignee").get(customer=svetlana)
    )
    assert page.url.endswith(f"/inbox/c/{conversation.pk}/")
    assert conversation.assignee == anna and conversation.inbox_id == support_inbox.pk
    expect(page.locator("#thread")).to_contain_text(f"call #{call.pk}")
    assert in_thread(lambda: Call.objects.get(pk=call.pk).follow_up_conversation_id) == (
        conversation.pk
    )
