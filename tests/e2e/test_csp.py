"""Our pages work under the Content-Security-Policy: the browser reports no
violation (no inline script, handler or style blocked) while the pages do their work."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from accounts.models import User
from chats.models import Conversation, Inbox
from tests import factories
from tests.e2e.test_inbox import in_thread, open_live
from tests.e2e.test_login import sign_in

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators"),
]

# Recorded from before the page's first script runs, in every frame and document.
LISTEN = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push({directive: e.violatedDirective, blocked: e.blockedURI,
                     source: e.sourceFile, line: e.lineNumber, sample: e.sample});
}, true);
"""


def watch(page: Page) -> list[str]:
    """Start recording violations and console errors that mention the policy."""
    page.context.add_init_script(LISTEN)
    console: list[str] = []
    page.on(
        "console",
        lambda msg: (
            console.append(msg.text)
            if msg.type == "error" and "Content Security Policy" in msg.text
            else None
        ),
    )
    return console


def violations(page: Page, console: list[str]) -> list[Any]:
    return [*page.evaluate("window.__csp || []"), *console]


@pytest.fixture
def conversation(support_inbox: Inbox, operator: User) -> Conversation:
    return in_thread(
        lambda: factories.make_conversation(
            inbox=support_inbox,
            customer=factories.make_customer("Svetlana", "Morozova", email="s@example.com"),
            text="Здравствуйте!",
            assignee=operator,
        )
    )


def test_the_operator_workspace_works_under_the_policy(
    live_page: Page, operator: User, conversation: Conversation
) -> None:
    console = watch(live_page)
    sign_in(live_page, "anna")
    assert violations(live_page, console) == []

    open_live(live_page, f"/inbox/c/{conversation.pk}/")  # the socket is up: scripts ran
    composer = live_page.get_by_role("textbox", name="Reply to the customer")
    composer.fill("Добрый день!")
    composer.press("Control+Enter")  # operator.js + htmx
    expect(live_page.locator("#thread-log li.msg-outbound")).to_contain_text("Добрый день!")
    live_page.locator("#shortcuts-button").click()  # shown and wired by operator.js
    expect(live_page.get_by_role("dialog")).to_be_visible()

    assert violations(live_page, console) == []


def test_the_admins_pages_work_under_the_policy(
    live_page: Page, admin_user: User, super_admin: User, conversation: Conversation
) -> None:
    console = watch(live_page)
    sign_in(live_page, "pavel")

    live_page.goto("/inbox/queue/")
    expect(live_page.locator("#queue")).to_be_visible()
    live_page.goto("/statistics/")
    expect(live_page.get_by_role("heading", name="Statistics", level=1)).to_be_visible()
    live_page.goto("/statistics/wallboard/")
    expect(live_page.locator("#wallboard")).to_be_visible()
    live_page.goto("/accounts/preferences/")
    live_page.goto("/admin/")
    expect(live_page.locator("#content")).to_be_visible()
    live_page.goto(f"/admin/chats/conversation/{conversation.pk}/change/")
    expect(live_page.locator("#content")).to_be_visible()
    live_page.goto("/api/v1/docs/")
    expect(live_page.locator(".swagger-ui .info")).to_be_visible()  # its script ran
    assert violations(live_page, console) == []


def test_the_access_admin_works_under_the_policy(
    live_page: Page, super_admin: User, operator: User
) -> None:
    console = watch(live_page)
    sign_in(live_page, "sofia")

    live_page.goto(f"/admin/accounts/user/{operator.pk}/change/")
    expect(live_page.locator("#user_form")).to_be_visible()
    live_page.goto("/admin/accounts/role/add/")
    expect(live_page.locator("#role_form")).to_be_visible()
    live_page.locator("#id_name").press_sequentially("Night shift")  # admin JS fills the slug
    expect(live_page.locator("#id_slug")).to_have_value("night-shift")
    live_page.goto("/admin/axes/accessattempt/")
    expect(live_page.locator("#content")).to_be_visible()
    assert violations(live_page, console) == []


def test_the_statistics_charts_draw_under_the_policy(live_page: Page, admin_user: User) -> None:
    console = watch(live_page)
    sign_in(live_page, "pavel")

    live_page.goto("/statistics/")
    expect(live_page.locator("canvas").first).to_be_visible()
    live_page.wait_for_function("() => typeof Chart !== 'undefined'")

    assert violations(live_page, console) == []


def test_the_widget_demo_page_works_under_the_policy(
    live_page: Page, asgi_server: str, admin_user: User, support
) -> None:
    inbox = in_thread(
        lambda: factories.make_inbox(
            name="Сайт", kind=Inbox.Kind.WIDGET, team=support, allowed_origins=asgi_server
        )
    )
    console = watch(live_page)
    sign_in(live_page, "pavel")

    live_page.goto(f"/widget/{inbox.key}/demo/")
    launcher = live_page.locator("#smartdesk-widget").get_by_role("button", name="Chat with us")
    expect(launcher).to_be_visible()
    launcher.click()
    expect(live_page.locator("#smartdesk-widget").get_by_role("dialog")).to_be_visible()

    assert violations(live_page, console) == []


def test_a_locked_out_sign_in_shows_the_lockout_page_under_the_policy(
    live_page: Page, operator: User
) -> None:
    console = watch(live_page)
    for _ in range(6):
        sign_in(live_page, "anna", password="wrong")

    expect(live_page.get_by_role("heading", name="Sign-in locked")).to_be_visible()
    expect(live_page).to_have_url(re.compile(r"/accounts/login/"))
    assert violations(live_page, console) == []
