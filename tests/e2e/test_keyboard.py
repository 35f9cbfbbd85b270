"""An operator works a conversation with the keyboard only, no mouse: sign in, open
the first conversation from the list, reply with a template, add a note, snooze, transfer
through the picker, close, undo. After each step the server's state is checked, and the focus
is somewhere useful (never the page body). Expectations auto-wait; nothing sleeps."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from accounts.models import OperatorProfile, User
from chats.models import Conversation, ConversationEvent, Inbox, Message, ReplyTemplate
from chats.services.templates import reply_template_save
from tests import factories
from tests.e2e.conftest import AXE_JS
from tests.e2e.test_inbox import in_thread
from tests.factories import PASSWORD

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators"),
]

TEMPLATE_TEXT = "Спасибо, что подождали, Svetlana!"


def focused_id(page: Page) -> str:
    return page.evaluate("document.activeElement && document.activeElement.id || ''")


def focus_in(page: Page, selector: str) -> bool:
    """Whether the focus is, or comes within the expect timeout, inside the selector.

    The focus is placed when htmx settles the swap, a moment after the new content shows;
    this waits for it (the test fails if it never lands there)."""
    try:
        page.wait_for_function(
            "s => !!(document.activeElement && document.activeElement.closest(s))",
            arg=selector,
            timeout=5000,
        )
    except PlaywrightTimeoutError:
        return False
    return True


def tab_to(page: Page, element_id: str, limit: int = 12) -> None:
    """Press Tab until the element with this id has the focus."""
    for _ in range(limit):
        if focused_id(page) == element_id:
            return
        page.keyboard.press("Tab")
    assert focused_id(page) == element_id, f"Tab never reached #{element_id}"


def picker_violations(page: Page) -> list[str]:
    """axe-core on the open transfer picker: serious or critical problems (none expected)."""
    page.evaluate(AXE_JS.read_text(encoding="utf-8"))
    return page.evaluate(
        """async () => (await axe.run('#transfer-details')).violations
            .filter(v => ['serious', 'critical'].includes(v.impact))
            .map(v => v.id + ': ' + v.nodes.map(n => n.target).join(' '))"""
    )


def fresh(conversation: Conversation) -> Conversation:
    return in_thread(
        lambda: Conversation.objects.select_related("assignee").get(pk=conversation.pk)
    )


@pytest.fixture
def floor(operator: User, teammate: User, support_inbox: Inbox):
    def prepare():
        first = factories.make_conversation(
            inbox=support_inbox,
            customer=factories.make_customer("Svetlana", email="sveta@example.com"),
            text="Где мой заказ?",
            assignee=operator,
        )
        factories.make_conversation(inbox=support_inbox, text="Второй вопрос", assignee=operator)
        reply_template_save(
            template=ReplyTemplate(
                shortcut="thanks",
                name="Thanks for waiting",
                body="Спасибо, что подождали, {{ customer.first_name }}!",
            ),
            actor=None,
        )
        OperatorProfile.objects.filter(user=teammate).update(
            presence=OperatorProfile.Presence.ONLINE
        )
        return first

    return in_thread(prepare)


def test_an_operator_works_a_conversation_with_the_keyboard_only(
    live_page: Page, operator: User, teammate: User, floor: Conversation, settings
) -> None:
    settings.CLOSE_UNDO_SECONDS = 10  # the close is undone below (the test settings have none)
    page = live_page
    conversation = floor

    # Sign in: the username field has the focus, Enter sends the form.
    page.goto("/accounts/login/")
    expect(page.locator("#id_username")).to_be_focused()
    page.keyboard.type("anna")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")

    # The inbox: focus on the first conversation of the list, not on the page body.
    expect(page).to_have_url(re.compile(r"/inbox/"))
    first = page.locator("#list .row-link").first
    expect(first).to_have_id(f"row-{conversation.pk}")
    expect(first).to_be_focused()

    # Open it: the message box has the focus.
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/inbox/c/{conversation.pk}/"))
    composer = page.locator("#composer-body")
    expect(composer).to_be_focused()
    expect(page.locator("#workspace")).to_have_attribute("data-live", "live")

    # Reply with a template: "/tha", Enter inserts it, Ctrl+Enter sends.
    page.keyboard.type("/tha")
    option = page.get_by_role("option").filter(has_text="/thanks")
    expect(option).to_have_attribute("aria-selected", "true")
    page.keyboard.press("Enter")
    expect(composer).to_have_value(TEMPLATE_TEXT)
    page.keyboard.press("Control+Enter")
    expect(page.locator("#thread-log li.msg-outbound")).to_contain_text(TEMPLATE_TEXT)
    reply = in_thread(lambda: Message.objects.get(conversation=conversation, kind="outbound"))
    assert (reply.body, reply.author_id) == (TEMPLATE_TEXT, operator.pk)
    expect(composer).to_be_focused()

    # Esc leaves the message box for the actions; n starts a note there.
    page.keyboard.press("Escape")
    expect(composer).not_to_be_focused()
    assert focus_in(page, "#thread .actions")
    page.keyboard.press("n")
    expect(composer).to_be_focused()
    expect(page.locator("#composer")).to_have_class(re.compile(r"\bis-note\b"))
    page.keyboard.type("Проверить склад")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#thread-log li.msg-note")).to_contain_text("Проверить склад")
    assert (
        in_thread(lambda: Message.objects.filter(conversation=conversation, kind="note").count())
        == 1
    )

    # Snooze: s opens the menu on the first choice; Tab to the reason, Enter snoozes.
    page.keyboard.press("Escape")
    page.keyboard.press("s")
    expect(page.locator("#snooze-details")).to_have_attribute("open", "")
    expect(page.get_by_label("For an hour")).to_be_focused()
    tab_to(page, "snooze-reason")
    page.keyboard.type("ждём склад")
    page.keyboard.press("Enter")
    expect(page.locator("#thread-status")).to_have_text("Snoozed")
    snoozed = fresh(conversation)
    assert (snoozed.status, snoozed.snooze_reason) == ("snoozed", "ждём склад")
    assert focus_in(page, "#thread")  # the action bar, not the body

    # Transfer: t opens the picker; type to filter, Enter chooses, the reason, Enter sends.
    page.keyboard.press("t")
    search = page.locator("#transfer-search")
    expect(search).to_be_focused()
    expect(page.locator("#transfer-options")).not_to_contain_text("anna")  # has it already
    expect(page.locator("#transfer-options [role=option]").first).to_have_attribute(
        "aria-selected", "true"
    )
    assert picker_violations(page) == []
    page.keyboard.type("bor")
    target = page.locator(f"#transfer-operator-{teammate.pk}")
    expect(page.locator("#transfer-options [role=option]")).to_have_count(1)
    expect(target).to_have_attribute("aria-selected", "true")
    expect(target).to_contain_text("Online")
    page.keyboard.press("Enter")
    expect(page.locator("#transfer-reason")).to_be_focused()
    expect(page.locator("#transfer-choice")).to_contain_text("boris")
    page.keyboard.type("по графику смен")
    page.keyboard.press("Enter")
    expect(page.locator("#thread-assignee")).to_have_text("boris")
    moved = fresh(conversation)
    assert (moved.assignee_id, moved.status) == (teammate.pk, "snoozed")
    event = in_thread(lambda: ConversationEvent.objects.filter(type="transferred").get())
    assert event.data["reason"] == "по графику смен"
    expect(page.locator("#action-transfer")).to_be_focused()

    # Close with e: the undo offer takes the focus.
    page.keyboard.press("e")
    expect(page.locator("#thread-status")).to_have_text("Closed")
    expect(page.locator("#close-undo")).to_contain_text("Conversation closed.")
    expect(page.locator("#action-undo-close")).to_be_focused()
    assert fresh(conversation).status == "closed"

    # Undo with u: back as it was before the close (snoozed, boris's).
    page.keyboard.press("u")
    expect(page.locator("#thread-status")).to_have_text("Snoozed")
    restored = fresh(conversation)
    assert (restored.status, restored.assignee_id, restored.snooze_reason, restored.closed_at) == (
        "snoozed",
        teammate.pk,
        "ждём склад",
        None,
    )
    expect(composer).to_be_focused()  # back to work on it


def test_single_key_shortcuts_can_be_switched_off(
    live_page: Page, operator: User, floor: Conversation
) -> None:
    page = live_page
    in_thread(
        lambda: OperatorProfile.objects.filter(user=operator).update(keyboard_shortcuts=False)
    )
    page.goto("/accounts/login/")
    page.keyboard.type("anna")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.locator("#list .row-link").first).to_be_focused()
    page.keyboard.press("Enter")  # the first conversation
    expect(page).to_have_url(re.compile(rf"/inbox/c/{floor.pk}/"))
    expect(page.locator("#workspace")).to_have_attribute("data-keyboard-shortcuts", "off")
    page.keyboard.press("Escape")
    assert focus_in(page, "#thread .actions")

    page.keyboard.press("e")  # nothing: single keys are off
    page.keyboard.press("?")
    expect(page.get_by_role("dialog")).to_be_hidden()
    assert fresh(floor).status == "open"

    # The help still opens from its button, and says how to switch them back on.
    tab_to(page, "shortcuts-button", limit=80)
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_contain_text(
        "Single-key shortcuts are off"
    )
