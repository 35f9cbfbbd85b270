"""The operator workspace in Chromium against the real ASGI app (HTTP and WebSockets):
live updates, the composer with templates and notes, snoozing, deleted messages, the
keyboard, and accessibility. Expectations auto-wait; nothing here sleeps."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.urls import Resolver404, resolve
from django.utils import timezone
from playwright.sync_api import Page, Playwright, expect

from accounts.models import User
from chats.models import Conversation, Inbox, Message, ReplyTemplate
from chats.services import messages as message_services
from chats.services.templates import reply_template_save
from tests import factories
from tests.e2e.test_login import describe, sign_in

pytestmark = [
    pytest.mark.django_db(transaction=True),
    # WhiteNoise hands static files to Django's ASGI handler as a synchronous iterator.
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators"),
]

AxeViolations = Callable[..., list[dict[str, Any]]]
CUSTOMER = {"kind": "email", "value": "sveta@example.com", "first_name": "Svetlana"}


def in_thread(work: Callable[[], Any]) -> Any:
    """Run `work` in a plain thread and return its result.

    Playwright's sync API keeps an event loop in the test thread, where asgiref refuses the
    async_to_sync that services use to publish their events after commit.
    """
    outcome: dict[str, Any] = {}

    def run() -> None:
        from django.db import connection

        try:
            outcome["value"] = work()
        except BaseException as error:  # handed to the test thread below
            outcome["error"] = error
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


@pytest.fixture
def conversation(support_inbox: Inbox, operator: User) -> Conversation:
    return in_thread(
        lambda: factories.make_conversation(
            inbox=support_inbox,
            customer=factories.make_customer("Svetlana", "Morozova", email=CUSTOMER["value"]),
            text="Здравствуйте! Можно ролл без кунжута?",
            assignee=operator,
        )
    )


def open_live(page: Page, path: str) -> None:
    """Open a workspace page and wait until its socket is connected and subscribed."""
    page.goto(path)
    expect(page.locator("#workspace")).to_have_attribute("data-live", "live")


def row(page: Page, conversation: Conversation):
    return page.locator(f"#list li[data-conversation-id='{conversation.pk}']")


def customer_writes(
    playwright: Playwright, base_url: str, inbox: Inbox, conversation: Conversation, text: str
) -> str:
    """A customer message through the inbound channel API, as a channel would post it; falls
    back to the ingest service while that API is not mounted. Returns which one was used."""
    path = f"/api/v1/inboxes/{inbox.key}/messages/"
    try:
        resolve(path)
    except Resolver404:
        in_thread(lambda: factories.receive(conversation, text))
        return "service"
    api = playwright.request.new_context(base_url=base_url)
    try:
        response = api.post(
            path,
            headers={"Authorization": f"Bearer {inbox.secret}"},
            data={"external_id": f"e2e-{abs(hash(text))}", "customer": CUSTOMER, "text": text},
        )
        assert response.status in (200, 201), response.text()
    finally:
        api.dispose()
    return "api"


def test_an_operator_signs_in_and_finds_the_conversation_in_the_inbox(
    live_page: Page, operator: User, conversation: Conversation
) -> None:
    sign_in(live_page, "anna")
    open_live(live_page, "/inbox/")

    expect(live_page.get_by_role("link", name="Mine")).to_have_attribute("aria-current", "page")
    expect(row(live_page, conversation)).to_contain_text("Svetlana Morozova")
    expect(row(live_page, conversation)).to_contain_text("1 unread")

    row(live_page, conversation).get_by_role("link", name="Svetlana Morozova").click()

    expect(live_page).to_have_url(re.compile(rf"/inbox/c/{conversation.pk}/"))
    expect(live_page.get_by_role("heading", name="Svetlana Morozova", level=2)).to_be_visible()
    expect(row(live_page, conversation)).not_to_contain_text("unread")  # opened: read


def test_a_customer_message_appears_in_the_open_thread_and_in_the_list_without_reload(
    live_page: Page,
    playwright: Playwright,
    asgi_server: str,
    operator: User,
    support_inbox: Inbox,
    conversation: Conversation,
) -> None:
    sign_in(live_page, "anna")
    open_live(live_page, f"/inbox/c/{conversation.pk}/")
    live_page.evaluate("window.__sameDocument = true")  # gone if the page reloads

    customer_writes(
        playwright, asgi_server, support_inbox, conversation, "У меня аллергия на кунжут."
    )

    expect(live_page.locator("#thread-log")).to_contain_text("У меня аллергия на кунжут.")
    expect(row(live_page, conversation)).to_contain_text("У меня аллергия на кунжут.")
    expect(live_page.locator("#live-announcer")).to_have_text("New message in this conversation.")
    assert live_page.evaluate("window.__sameDocument") is True


def test_another_operator_taking_a_queued_conversation_updates_the_list_live(
    live_page: Page, teammate: User, operator: User, support_inbox: Inbox
) -> None:
    queued = in_thread(lambda: factories.make_conversation(inbox=support_inbox, text="Кто-нибудь?"))
    sign_in(live_page, "anna")
    open_live(live_page, "/inbox/?view=queue")
    expect(row(live_page, queued)).to_be_visible()

    from chats.services.conversations import conversation_take

    in_thread(lambda: conversation_take(conversation=queued, actor=teammate))

    expect(row(live_page, queued)).to_have_count(0)


def test_reply_with_a_template_add_a_note_then_snooze_out_of_the_active_list(
    live_page: Page, operator: User, conversation: Conversation
) -> None:
    in_thread(
        lambda: reply_template_save(
            template=ReplyTemplate(
                shortcut="hello",
                name="Greeting",
                body="Здравствуйте, {{ customer.first_name }}! "
                "Меня зовут {{ operator.first_name }}.",
            ),
            actor=None,
        )
    )
    sign_in(live_page, "anna")
    open_live(live_page, f"/inbox/c/{conversation.pk}/")
    composer = live_page.get_by_role("textbox", name="Reply to the customer")

    # "/hel" opens the picker with the personalised preview; Enter inserts the plain text.
    composer.press_sequentially("/hel")
    option = live_page.get_by_role("option").filter(has_text="/hello")
    expect(option).to_contain_text("Здравствуйте, Svetlana! Меня зовут anna.")
    expect(option).to_have_attribute("aria-selected", "true")
    composer.press("Enter")
    expect(composer).to_have_value("Здравствуйте, Svetlana! Меня зовут anna.")
    expect(live_page.get_by_role("listbox")).to_have_count(0)

    composer.press("Control+Enter")

    reply = live_page.locator("#thread-log li.msg-outbound")
    expect(reply).to_contain_text("Здравствуйте, Svetlana! Меня зовут anna.")
    expect(reply).to_contain_text("Reply")
    expect(composer).to_have_value("")

    # A note: chosen with the toggle, labelled, and on its own background.
    live_page.get_by_label("Internal note", exact=True).check()
    note_box = live_page.get_by_role("textbox", name="Internal note (only colleagues see it)")
    note_box.fill("Проверить состав соуса у кухни.")
    live_page.get_by_role("button", name="Add note").click()

    note = live_page.locator("#thread-log li.msg-note")
    expect(note).to_contain_text("Проверить состав соуса у кухни.")
    expect(note.locator(".msg-label")).to_have_text("Internal note")
    backgrounds = live_page.evaluate(
        """() => ['li.msg-note', 'li.msg-outbound', 'li.msg-inbound'].map(
            s => getComputedStyle(document.querySelector('#thread-log ' + s)).backgroundColor)"""
    )
    assert len(set(backgrounds)) == 3, backgrounds
    assert Message.objects.filter(kind="note", delivery_status="").count() == 1

    # Snooze until tomorrow with a reason: it leaves Mine and waits in Snoozed.
    expect(row(live_page, conversation)).to_be_visible()
    live_page.get_by_text("Snooze…").click()
    live_page.get_by_label("Tomorrow 09:00").check()
    live_page.get_by_label("Reason (shown in the list)").fill("ждём ответа кухни")
    live_page.locator("#snooze-submit").click()

    expect(live_page.locator("#thread-status")).to_have_text("Snoozed")
    expect(row(live_page, conversation)).to_have_count(0)

    live_page.get_by_role("link", name="Snoozed").click()
    expect(row(live_page, conversation)).to_contain_text("ждём ответа кухни")
    expect(row(live_page, conversation)).to_contain_text("Snoozed until")


def test_a_refused_action_shows_its_reason_in_the_page(
    live_page: Page, operator: User, conversation: Conversation
) -> None:
    sign_in(live_page, "anna")
    open_live(live_page, f"/inbox/c/{conversation.pk}/")
    # Closed elsewhere a moment ago, before any live event could reach this page (a direct
    # update publishes nothing): the page still offers the composer, the server refuses.
    in_thread(
        lambda: Conversation.objects.filter(pk=conversation.pk).update(
            status="closed", closed_at=timezone.now()
        )
    )
    composer = live_page.locator("#composer-body")
    composer.fill("Ещё один вопрос?")

    composer.press("Control+Enter")

    expect(live_page.get_by_role("alert")).to_have_text("Reopen the conversation to answer it.")
    expect(composer).to_have_value("Ещё один вопрос?")  # nothing typed is lost


def test_an_admin_sees_a_deleted_message_greyed_and_an_operator_does_not_see_it(
    live_page: Page, operator: User, admin_user: User, conversation: Conversation
) -> None:
    def delete_one() -> Message:
        message = factories.receive(conversation, "Мой номер карты 4111 1111 1111 1111")
        factories.receive(conversation, "Ой, не туда.")
        return message_services.message_delete(message=message, actor=operator)

    deleted = in_thread(delete_one)

    sign_in(live_page, "pavel")
    open_live(live_page, f"/inbox/c/{conversation.pk}/?view=all")
    item = live_page.locator(f"#message-{deleted.pk}")
    expect(item).to_have_class(re.compile(r"\bis-deleted\b"))
    expect(item).to_contain_text("Deleted by anna at")
    expect(item).to_contain_text("4111")
    colours = live_page.evaluate(
        """id => {
            const deleted = getComputedStyle(document.getElementById(id));
            const other = getComputedStyle(
                document.querySelector('#thread-log li.msg-inbound:not(.is-deleted)'));
            return [deleted.backgroundColor, other.backgroundColor, deleted.color, other.color];
        }""",
        f"message-{deleted.pk}",
    )
    assert colours[0] != colours[1] and colours[2] != colours[3], colours  # greyed

    live_page.get_by_role("button", name="Sign out").click()
    sign_in(live_page, "anna")
    open_live(live_page, f"/inbox/c/{conversation.pk}/")

    expect(live_page.locator("#thread-log")).to_contain_text("Ой, не туда.")
    expect(live_page.locator(f"#message-{deleted.pk}")).to_have_count(0)
    expect(live_page.locator("#thread-log")).not_to_contain_text("4111")


def test_the_keyboard_reaches_the_shortcuts(
    live_page: Page, operator: User, support_inbox: Inbox, conversation: Conversation
) -> None:
    # `conversation` has waited longer, so it is listed first.
    later = in_thread(
        lambda: factories.make_conversation(inbox=support_inbox, text="Второй", assignee=operator)
    )
    sign_in(live_page, "anna")
    open_live(live_page, f"/inbox/c/{conversation.pk}/")
    body = live_page.locator("body")
    links = live_page.locator("#list .row-link")
    expect(links).to_have_count(2)
    expect(links.nth(0)).to_have_id(f"row-{conversation.pk}")

    body.press("?")
    dialog = live_page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Snooze the conversation")
    live_page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    body.press("n")
    composer = live_page.locator("#composer-body")
    expect(composer).to_be_focused()
    expect(live_page.locator("#composer")).to_have_class(re.compile(r"\bis-note\b"))
    live_page.keyboard.type("jkte")  # typing in a field is typing, not shortcuts
    expect(composer).to_have_value("jkte")
    expect(live_page).to_have_url(re.compile(rf"/inbox/c/{conversation.pk}/"))
    composer.fill("")

    live_page.locator("#thread-heading").focus()
    live_page.keyboard.press("/")
    expect(live_page.get_by_role("searchbox", name="Search conversations")).to_be_focused()

    live_page.locator("#thread-heading").focus()
    live_page.keyboard.press("s")
    expect(live_page.locator("#snooze-details")).to_have_attribute("open", "")
    expect(live_page.get_by_label("For an hour")).to_be_focused()
    live_page.locator("#snooze-details summary").click()  # closed again

    live_page.locator("#thread-heading").focus()
    live_page.keyboard.press("j")
    expect(live_page).to_have_url(re.compile(rf"/inbox/c/{later.pk}/"))
    expect(live_page.locator("#workspace")).to_have_attribute("data-live", "live")
    live_page.keyboard.press("k")
    expect(live_page).to_have_url(re.compile(rf"/inbox/c/{conversation.pk}/"))
    expect(live_page.locator("#workspace")).to_have_attribute("data-live", "live")

    live_page.keyboard.press("e")
    expect(live_page.locator("#thread-status")).to_have_text("Closed")
    expect(row(live_page, conversation)).to_have_count(0)  # Mine holds active ones only


def test_a_takes_a_queued_conversation(
    live_page: Page, operator: User, support_inbox: Inbox
) -> None:
    queued = in_thread(lambda: factories.make_conversation(inbox=support_inbox, text="Алло?"))
    sign_in(live_page, "anna")
    open_live(live_page, f"/inbox/c/{queued.pk}/?view=queue")
    expect(live_page.locator("#thread-assignee")).to_contain_text("nobody")

    live_page.locator("body").press("a")  # "t" is Transfer

    expect(live_page.locator("#thread-assignee")).to_have_text("anna")
    expect(live_page.locator("#thread-heading")).to_be_focused()  # the button is gone
    expect(row(live_page, queued)).to_have_count(0)  # no longer in the queue


@pytest.mark.parametrize("theme", ["default", "high contrast at 150%"])
def test_the_inbox_and_thread_pages_have_no_serious_accessibility_violation(
    live_page: Page,
    operator: User,
    conversation: Conversation,
    axe_violations: AxeViolations,
    theme: str,
) -> None:
    def prepare() -> None:
        message_services.message_note(
            conversation=conversation, author=operator, body="Проверить соус"
        )
        message_services.message_reply(conversation=conversation, author=operator, body="Да!")
        factories.receive(conversation, "Спасибо")
        if theme != "default":
            from accounts.services import profile_update_preferences

            profile_update_preferences(profile=operator.profile, high_contrast=True, font_scale=150)

    in_thread(prepare)
    sign_in(live_page, "anna")
    open_live(live_page, "/inbox/")
    expect(row(live_page, conversation)).to_be_visible()

    inbox_violations = axe_violations(live_page)

    open_live(live_page, f"/inbox/c/{conversation.pk}/")
    live_page.get_by_text("Snooze…").click()  # the open forms are checked too
    live_page.get_by_text("Transfer…").click()
    thread_violations = axe_violations(live_page)

    assert inbox_violations == [], describe(inbox_violations)
    assert thread_violations == [], describe(thread_violations)


def test_after_a_dropped_connection_the_page_catches_up_on_what_it_missed(
    live_page: Page, operator: User, teammate: User, conversation: Conversation, settings: Any
) -> None:
    # An offline browser's socket is not closed by anyone: the page notices the missing
    # heartbeats (2.5 periods) and reconnects.
    settings.LIVE_HEARTBEAT_SECONDS = 1
    sign_in(live_page, "anna")
    open_live(live_page, f"/inbox/c/{conversation.pk}/")
    in_thread(
        lambda: message_services.message_note(
            conversation=conversation, author=teammate, body="Первая заметка"
        )
    )
    expect(live_page.locator("#thread-log")).to_contain_text("Первая заметка")
    last_id = live_page.evaluate("Number(sessionStorage.getItem('smartdesk.live.last'))")
    assert last_id > 0

    live_page.context.set_offline(True)
    expect(live_page.locator("#workspace")).not_to_have_attribute("data-live", "live")
    in_thread(lambda: factories.receive(conversation, "Пока вас не было"))
    live_page.context.set_offline(False)

    # Backoff grows while offline; the reconnect resumes from the last id and replays.
    expect(live_page.locator("#workspace")).to_have_attribute("data-live", "live", timeout=20_000)
    expect(live_page.locator("#thread-log")).to_contain_text("Пока вас не было")
    expect(row(live_page, conversation)).to_contain_text("Пока вас не было")
    assert live_page.evaluate("Number(sessionStorage.getItem('smartdesk.live.last'))") > last_id


def test_a_form_open_in_the_card_is_kept_through_a_live_change_and_the_card_follows_after(
    live_page: Page, operator: User, conversation: Conversation
) -> None:
    """A live change to the open conversation refreshes its thread and card, but not the card
    under a form the operator is filling in (goodwill points): the card follows once the form
    is closed."""
    from django.db import transaction

    from accounts.services.common import _access_changed
    from chats.services.conversations import conversation_set_priority

    def access_changed() -> None:
        with transaction.atomic():
            _access_changed([operator.pk])

    sign_in(live_page, "anna")
    open_live(live_page, f"/inbox/c/{conversation.pk}/")
    goodwill = live_page.locator("#panel details.goodwill")
    goodwill.locator("summary").click()
    live_page.locator("#goodwill-points").fill("50")
    # Marks that a swap of the fragment would take away.
    live_page.evaluate(
        "['thread', 'panel', 'list']"
        ".forEach(id => document.getElementById(id).dataset.before = '1')"
    )

    in_thread(
        lambda: conversation_set_priority(
            conversation=conversation, priority=Conversation.Priority.HIGH, actor=None
        )
    )
    expect(live_page.locator("#thread[data-before]")).to_have_count(0)  # nothing open in it
    # Then a change that refreshes the thread, the card and the list, in that order, one
    # after the other: once the list is swapped, a card refresh of either turn would have been.
    in_thread(access_changed)
    expect(live_page.locator("#list[data-before]")).to_have_count(0)

    expect(live_page.locator("#panel[data-before]")).to_have_count(1)
    expect(goodwill).to_have_attribute("open", "")
    expect(live_page.locator("#goodwill-points")).to_have_value("50")

    goodwill.locator("summary").click()  # done with it: the card catches up
    expect(live_page.locator("#panel[data-before]")).to_have_count(0)


def test_a_refused_goodwill_grant_shows_its_reason_in_the_card(
    live_page: Page, operator: User, conversation: Conversation
) -> None:
    """The server refuses (400) what the browser let through, a reason of blanks: the card
    comes back with the form open and the reason, instead of nothing happening."""
    sign_in(live_page, "anna")
    open_live(live_page, f"/inbox/c/{conversation.pk}/")
    goodwill = live_page.locator("#panel details.goodwill")
    goodwill.locator("summary").click()
    live_page.locator("#goodwill-points").fill("50")
    live_page.locator("#goodwill-reason").fill("   ")

    goodwill.locator("button[type=submit]").click()

    expect(live_page.locator("#panel .goodwill-result .action-error")).to_have_count(1)
    expect(live_page.locator("#panel details.goodwill")).to_have_attribute("open", "")
    expect(live_page.locator("#goodwill-points")).to_have_value("50")
