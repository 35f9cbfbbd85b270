"""Contact-spike alerts and topic trends on the statistics page follow the viewer's scope: a
supervisor of one team sees the alerts of that team's segment and the topics of the
conversations they may see; alerts of other teams and of segments that span every team (all
contacts, a channel, a topic, a label, a city) only reach roles that see all teams."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from accounts.models import OperatorProfile, Role
from analytics.ai.trends import recent_alerts
from analytics.models import AnomalyAlert
from chats.models import Conversation
from tests import factories
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

HOUR = datetime(2026, 7, 6, 9, tzinfo=UTC)


@pytest.fixture
def supervisor(support):
    role = factories.make_role(
        name="Team lead",
        slug="team-lead",
        scope=Role.Scope.TEAMS,
        can_view_statistics=True,
        can_handle_conversations=True,
    )
    return factories.make_user(username="lena", role=role, teams=[support])


@pytest.fixture
def alerts(support, delivery) -> dict[str, AnomalyAlert]:
    def alert(dimension: str, value: str, hours_ago: int) -> AnomalyAlert:
        return AnomalyAlert.objects.create(
            dimension=dimension,
            value=value,
            hour=HOUR - timedelta(hours=hours_ago),
            observed=11,
            expected=2.0,
            p_value=1e-6,
            raised_at=HOUR,
        )

    return {
        "support": alert("team", str(support.pk), 0),
        "delivery": alert("team", str(delivery.pk), 1),
        "all": alert("all", "", 2),
        "channel": alert("channel", "api", 3),
        "topic": alert("topic", "refund_request", 4),
    }


def signed_in(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def shown(user) -> set[int]:
    return {row["alert"].pk for row in recent_alerts(user=user, limit=10)}


def test_a_team_supervisor_sees_only_the_alerts_of_their_team(supervisor, alerts) -> None:
    assert shown(supervisor) == {alerts["support"].pk}


def test_a_role_that_sees_all_teams_sees_every_alert(admin_user, alerts) -> None:
    assert shown(admin_user) == {a.pk for a in alerts.values()}


def test_a_role_that_sees_only_its_own_conversations_sees_no_alert(alerts, support) -> None:
    role = factories.make_role(scope=Role.Scope.ASSIGNED, can_view_statistics=True)
    solo = factories.make_user(username="oleg", role=role, teams=[support])
    assert shown(solo) == set()


def test_the_page_shows_a_supervisor_neither_other_teams_alerts_nor_their_topics(
    supervisor, admin_user, alerts, support_inbox, delivery_inbox
) -> None:
    for inbox, topic in ((support_inbox, "late_delivery"), (delivery_inbox, "courier_rude")):
        conversation = factories.make_conversation(inbox=inbox)
        Conversation.objects.filter(pk=conversation.pk).update(topic=topic)

    html = signed_in(supervisor).get("/statistics/").content.decode()
    alerts_table = html.split('id="anomaly-alerts"', 1)[1].split("</table>", 1)[0]
    assert "Support" in alerts_table
    assert "Delivery" not in alerts_table
    assert "refund_request" not in alerts_table
    topics = html.split('id="topic-trend-table"', 1)[1].split("</table>", 1)[0]
    assert "late_delivery" in topics
    assert "courier_rude" not in topics
    # nor is the other team offered in the filter
    assert "Delivery" not in html

    admin_html = signed_in(admin_user).get("/statistics/").content.decode()
    for text in ("Support", "Delivery", "refund_request", "late_delivery", "courier_rude"):
        assert text in admin_html, text


def test_alert_hours_are_shown_in_the_viewers_time_zone(admin_user, alerts) -> None:
    OperatorProfile.objects.filter(user=admin_user).update(time_zone="Europe/Moscow")
    html = signed_in(admin_user).get("/statistics/").content.decode()
    table = html.split('id="anomaly-alerts"', 1)[1].split("</table>", 1)[0]
    assert "6 Jul, 12:00" in table  # 09:00 UTC
    assert "UTC" not in table
