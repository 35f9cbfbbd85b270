"""Restoring a deleted conversation with JavaScript on, in Chromium against the real ASGI
app. The page's socket subscribed to the open conversation and the server refused a deleted
one, so within a second the page replaced the thread with "no longer available" and the
Restore button was gone. An admin who may restore sees the deleted thread stay, live, and
Restore works."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from accounts.models import User
from chats.models import Conversation, Inbox
from chats.services.conversations import conversation_delete
from tests import factories
from tests.e2e.test_inbox import in_thread, open_live
from tests.e2e.test_login import sign_in

pytestmark = [
    pytest.mark.django_db(transaction=True),
    # WhiteNoise hands static files to Django's ASGI handler as a synchronous iterator.
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators"),
]


def test_an_admin_restores_a_deleted_conversation_with_javascript_on(
    live_page: Page, admin_user: User, operator: User, support_inbox: Inbox
) -> None:
    def make() -> int:
        conversation = factories.make_conversation(
            inbox=support_inbox, text="Please call me back", assignee=operator
        )
        conversation_delete(conversation=conversation, actor=admin_user, reason="test")
        return conversation.pk

    pk = in_thread(make)
    page = live_page
    sign_in(page, "pavel")
    # the page is live: socket connected and the open conversation subscribed
    open_live(page, f"/inbox/c/{pk}/")

    thread = page.locator("#thread")
    expect(thread.locator(".notice-deleted")).to_be_visible()
    restore = page.locator("#action-restore")
    expect(restore).to_be_visible()
    # the live side has answered the subscription and still shows the thread
    expect(page.locator("#workspace")).to_have_attribute("data-live", "live")
    expect(page.locator(".notice-gone")).to_have_count(0)

    restore.click()

    expect(thread.locator(".notice-deleted")).to_have_count(0)
    expect(page.locator(".notice-gone")).to_have_count(0)
    expect(thread).to_contain_text("Please call me back")
    assert in_thread(lambda: Conversation.objects.get(pk=pk).deleted_at) is None


def test_an_operator_without_restore_still_loses_a_conversation_deleted_under_them(
    live_page: Page, admin_user: User, operator: User, support_inbox: Inbox
) -> None:
    conversation = in_thread(
        lambda: factories.make_conversation(inbox=support_inbox, assignee=operator)
    )
    page = live_page
    sign_in(page, "anna")
    open_live(page, f"/inbox/c/{conversation.pk}/")

    in_thread(
        lambda: conversation_delete(conversation=conversation, actor=admin_user, reason="spam")
    )

    expect(page.locator(".notice-gone")).to_be_visible()
    expect(page.locator("#action-restore")).to_have_count(0)
