"""The statistics page in the viewer's language: chart legends and units come translated from
the template (the JavaScript only draws them), and figures follow the locale's number format
on the server and in the browser alike ("42,9 %" in Russian, "42.9%" in English)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from html import unescape

import pytest
from django.test import Client
from django.utils import translation

from accounts.models import OperatorProfile
from analytics import rollups
from analytics.templatetags import stats_format
from chats.services.conversations import conversation_close
from chats.services.messages import message_reply
from tests import factories
from tests.analytics.conftest import clock
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

NBSP = "\u00a0"


def signed_in(user, language: str = "") -> Client:
    OperatorProfile.objects.filter(user=user).update(language=language)
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def attributes(html: str, element_id: str) -> dict[str, str]:
    """The attributes of the element with this id (the page is ours: one tag, plain quotes)."""
    tag = re.search(rf'<[a-z]+ [^>]*id="{element_id}"[^>]*>', html)
    assert tag, element_id
    return {k: unescape(v) for k, v in re.findall(r'([\w-]+)="([^"]*)"', tag.group(0))}


def dashboard(user, language: str) -> str:
    with clock(datetime(2026, 7, 6, 10, tzinfo=UTC)):
        page = signed_in(user, language).get(
            "/statistics/?period=custom&from=2026-07-06&to=2026-07-06"
        )
    assert page.status_code == 200
    return page.content.decode()


@pytest.fixture
def figures(operator, support_inbox) -> None:
    with clock(datetime(2026, 7, 6, 9, tzinfo=UTC)):
        conversation = factories.make_conversation(inbox=support_inbox, assignee=operator)
        message_reply(conversation=conversation, author=operator, body="Сейчас посмотрю.")
        conversation_close(conversation=conversation, actor=operator)
        rollups.rollup_rebuild()


def test_the_russian_dashboard_hands_the_charts_russian_legends_and_units(
    admin_user, figures
) -> None:
    html = dashboard(admin_user, "ru")
    trend = attributes(html, "trend-chart")
    assert trend["data-volume"] == "Диалоги"
    assert trend["data-service-level"] == "Уровень сервиса"
    staffing = attributes(html, "staffing-chart")
    assert staffing["data-needed"] == "Нужно операторов"
    assert staffing["data-online"] == "Операторов в сети"
    assert staffing["data-hour"] == "%(day)s, %(hour)s:00"
    # the weekdays the staffing axis reads are Russian too
    data = json.loads(re.search(r'id="stats-data"[^>]*>(.*?)</script>', html, re.S).group(1))
    assert data["weekdays"][0] == "Пн"
    # no English unit left in the tables: online hours and the heatmap's samples
    assert not re.search(r"\d h<", html)
    assert not re.search(r"\d h\"", html)
    assert re.search(r"\d\u00a0ч<", html)
    # the export datasets are named in Russian, their files keep their keys
    assert '<option value="events">События диалогов</option>' in html


def test_the_english_dashboard_keeps_english_legends(admin_user, figures) -> None:
    html = dashboard(admin_user, "en")
    assert attributes(html, "trend-chart")["data-volume"] == "Conversations"
    assert attributes(html, "staffing-chart")["data-needed"] == "Operators needed"


def test_percentages_and_figures_follow_the_locale() -> None:
    with translation.override("ru"):
        assert stats_format.percent(0.4287) == f"42,9{NBSP}%"
        assert stats_format.signed_percent(0.25) == f"+25{NBSP}%"
        assert stats_format.figure(1234) == f"1{NBSP}234"
        assert stats_format.figure(4.25, "score") == "4,25"
        assert stats_format.figure(2.5, "hours") == f"2,5{NBSP}ч"
        assert stats_format.hours(2.5) == f"2,5{NBSP}ч"
    with translation.override("en"):
        assert stats_format.percent(0.4287) == "42.9%"
        assert stats_format.signed_percent(-0.25) == "-25%"
        assert stats_format.figure(1234) == "1,234"
        assert stats_format.figure(4.25, "score") == "4.25"
        assert stats_format.hours(2.5) == f"2.5{NBSP}h"
    assert stats_format.percent(None) == "—"


def test_one_page_never_mixes_decimal_separators(admin_user, figures) -> None:
    """Every decimal figure of the Russian page uses the comma, like the customer card's
    money ("184,00"): no "42.9" beside it."""
    html = dashboard(admin_user, "ru")
    visible = re.sub(r"<script.*?</script>|<[^>]+>", " ", html, flags=re.S)
    visible = re.sub(r"\d{2}\.\d{2} \d{2}:00", " ", visible)  # the trend's "06.07 10:00"
    assert not re.search(r"\d\.\d", visible), re.findall(r".{20}\d\.\d.{20}", visible)[:5]
    assert re.search(r"\d,\d", visible)
    titles = " ".join(re.findall(r'title="([^"]*)"', html))
    assert not re.search(r"\d\.\d", titles)
