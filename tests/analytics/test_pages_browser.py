"""The dashboard and the wallboard in a real browser (Playwright, /usr/bin/chromium): the
charts are drawn beside their tables, the pages have no serious accessibility violation, and
the wallboard follows the queue over the WebSocket."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from accounts.models import User
from analytics import rollups
from chats.models import Inbox
from chats.services.conversations import conversation_close
from chats.services.messages import message_reply
from tests import factories
from tests.e2e import conftest as e2e
from tests.e2e.conftest import Violations
from tests.e2e.test_inbox import in_thread
from tests.e2e.test_login import describe, sign_in

# The browser fixtures of tests/e2e (this module lives beside the other statistics tests).
playwright, browser, asgi_server = e2e.playwright, e2e.browser, e2e.asgi_server
live_page, axe_violations = e2e.live_page, e2e.axe_violations

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators"),
]

# Records when the page's sockets are open, so the test waits on that, not on a clock.
SOCKET_PROBE = """
(() => {
  const Native = window.WebSocket;
  window.__socketsOpen = 0;
  window.WebSocket = function (...args) {
    const ws = new Native(...args);
    ws.addEventListener("open", () => { window.__socketsOpen += 1; });
    return ws;
  };
  window.WebSocket.prototype = Native.prototype;
  Object.assign(window.WebSocket, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
})();
"""


def test_the_dashboard_draws_its_charts_beside_their_tables(
    live_page: Page,
    admin_user: User,
    operator: User,
    support_inbox: Inbox,
    axe_violations,
) -> None:
    def figures() -> None:
        conversation = factories.make_conversation(inbox=support_inbox, assignee=operator)
        message_reply(conversation=conversation, author=operator, body="Сейчас посмотрю.")
        conversation_close(conversation=conversation, actor=operator)
        rollups.rollup_rebuild()

    in_thread(figures)
    sign_in(live_page, "pavel")
    live_page.goto("/statistics/?period=7d")

    expect(live_page.get_by_role("heading", level=1, name="Statistics")).to_be_visible()
    expect(live_page.locator('[data-kpi="volume"]')).to_contain_text("1")
    for chart in ("trend-chart", "staffing-chart"):
        live_page.wait_for_function(
            "id => !!(window.Chart && Chart.getChart(document.getElementById(id)))", arg=chart
        )
    expect(live_page.locator("#trend-table tbody tr")).not_to_have_count(0)
    expect(live_page.locator("#staffing-table tbody tr")).not_to_have_count(0)
    expect(live_page.locator("#heatmap")).to_be_visible()
    expect(live_page.locator("#operators")).to_contain_text("anna")

    violations: Violations = axe_violations(live_page)
    assert violations == [], describe(violations)


def test_the_wallboard_follows_the_queue_live(
    live_page: Page,
    admin_user: User,
    support_inbox: Inbox,
    axe_violations,
) -> None:
    in_thread(lambda: factories.make_conversation(inbox=support_inbox, text="Алло?"))
    live_page.add_init_script(SOCKET_PROBE)
    sign_in(live_page, "pavel")
    live_page.goto("/statistics/wallboard/")

    waiting = live_page.locator('#wallboard [data-kpi="queue_length"] .kpi-value')
    expect(live_page.get_by_role("heading", level=1, name="Wallboard")).to_be_visible()
    expect(waiting).to_have_text("1")
    expect(live_page.locator("#wallboard-teams")).to_contain_text("Support")
    violations: Violations = axe_violations(live_page)
    assert violations == [], describe(violations)

    # another customer starts waiting: the board follows without a reload
    live_page.wait_for_function("() => window.__socketsOpen > 0")
    in_thread(lambda: factories.make_conversation(inbox=support_inbox, text="Есть кто?"))
    expect(waiting).to_have_text("2")
