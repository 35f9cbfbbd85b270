"""The Russian statistics page in a real browser (Playwright, /usr/bin/chromium): the charts'
legends are Russian and their axes write numbers the Russian way (decimal comma, "100 %")."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from accounts.models import OperatorProfile, User
from analytics import rollups
from chats.models import Inbox
from chats.services.conversations import conversation_close
from chats.services.messages import message_reply
from tests import factories
from tests.e2e import conftest as e2e
from tests.e2e.conftest import Violations
from tests.e2e.test_inbox import in_thread
from tests.e2e.test_login import describe, sign_in

playwright, browser, asgi_server = e2e.playwright, e2e.browser, e2e.asgi_server
live_page, axe_violations = e2e.live_page, e2e.axe_violations

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators"),
]

LEGENDS = "id => Chart.getChart(document.getElementById(id)).data.datasets.map(d => d.label)"
TICKS = """([id, axis]) => {
  const chart = Chart.getChart(document.getElementById(id));
  return chart.scales[axis].ticks.map(t => t.label).flat();
}"""


def test_the_russian_dashboard_draws_russian_legends_and_numbers(
    live_page: Page, admin_user: User, operator: User, support_inbox: Inbox, axe_violations
) -> None:
    def figures() -> None:
        OperatorProfile.objects.filter(user=admin_user).update(language="ru")
        conversation = factories.make_conversation(inbox=support_inbox, assignee=operator)
        message_reply(conversation=conversation, author=operator, body="Сейчас посмотрю.")
        conversation_close(conversation=conversation, actor=operator)
        rollups.rollup_rebuild()

    in_thread(figures)
    sign_in(live_page, "pavel")
    live_page.goto("/statistics/?period=7d")
    expect(live_page.get_by_role("heading", level=1, name="Статистика")).to_be_visible()
    for chart in ("trend-chart", "staffing-chart"):
        live_page.wait_for_function(
            "id => !!(window.Chart && Chart.getChart(document.getElementById(id)))", arg=chart
        )

    assert live_page.evaluate(LEGENDS, "trend-chart") == ["Диалоги", "Уровень сервиса"]
    assert live_page.evaluate(LEGENDS, "staffing-chart") == [
        "Нужно операторов",
        "Операторов в сети",
    ]
    # the service-level axis is in percent, written the Russian way
    percent_ticks = live_page.evaluate(TICKS, ["trend-chart", "y1"])
    assert "100\u00a0%" in percent_ticks, percent_ticks
    # the staffing axis has fractional steps: a decimal comma, never a point
    staffing_ticks = live_page.evaluate(TICKS, ["staffing-chart", "y"])
    assert any("," in t for t in staffing_ticks), staffing_ticks
    assert not any("." in t for t in staffing_ticks), staffing_ticks
    # and the hours on the staffing axis read as Russian weekdays
    labels = live_page.evaluate(
        "() => Chart.getChart(document.getElementById('staffing-chart')).data.labels.slice(0, 2)"
    )
    assert labels == ["Пн, 0:00", "Пн, 1:00"]

    violations: Violations = axe_violations(live_page)
    assert violations == [], describe(violations)
