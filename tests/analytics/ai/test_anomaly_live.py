"""Anomaly alerts end to end: counted from conversations, raised once per spike,
heard live on an admin's socket (not an operator's), POSTed to the webhook, shown on the
statistics page beside the topic trends."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from analytics.ai.models import Classification
from analytics.ai.trends import (
    anomaly_alert_raise,
    anomaly_check,
    city_of,
    hour_floor,
    segment_counts,
    topic_trends,
)
from analytics.models import AnomalyAlert
from chats.models import Conversation
from tests import factories
from tests.live import operator_socket

from .fake_http import fake_peer

pytestmark = pytest.mark.django_db(transaction=True)


def _burst(inbox, count: int, *, topic: str, at) -> None:
    for _ in range(count):
        conversation = factories.make_conversation(inbox=inbox, text="Where is my order?")
        Conversation.objects.filter(pk=conversation.pk).update(created_at=at, topic=topic)


def _topic_alerts() -> list[AnomalyAlert]:
    return list(AnomalyAlert.objects.filter(dimension="topic", value="late_delivery"))


def test_a_spike_reaches_an_admins_socket_and_not_an_operators(
    admin_user, operator, support_inbox
) -> None:
    now = timezone.now()
    _burst(support_inbox, 8, topic="late_delivery", at=hour_floor(now))
    admin_socket = operator_socket(admin_user)
    operator_sock = operator_socket(operator)

    async def scenario() -> None:
        assert (await admin_socket.connect())[0]
        assert (await operator_sock.connect())[0]
        raised = await database_sync_to_async(anomaly_check)(now=now)
        assert raised
        seen = {}
        deadline = time.monotonic() + 15
        while len(seen) < len(raised):
            assert time.monotonic() < deadline, f"only {sorted(seen)} of {len(raised)} alerts"
            message = await admin_socket.receive_json_from(timeout=10)
            if message["type"] == "anomaly.alert":
                seen[(message["dimension"], message["value"])] = message
        topic = seen[("topic", "late_delivery")]
        assert topic["observed"] == 8 and topic["expected"] < 1
        assert isinstance(topic["id"], int)
        assert await operator_sock.receive_nothing(timeout=0.5)  # not an admin: no alerts
        await admin_socket.disconnect()
        await operator_sock.disconnect()

    async_to_sync(scenario)()


@override_settings(LIVE_HEARTBEAT_SECONDS=0.3)
def test_an_alert_the_channel_layer_lost_is_recovered_by_an_admins_heartbeat(
    admin_user, operator, support_inbox, monkeypatch
) -> None:
    now = timezone.now()
    _burst(support_inbox, 8, topic="late_delivery", at=hour_floor(now))
    # the send reaches nobody, as when Redis drops it: only the live-event log has it
    monkeypatch.setattr("analytics.ai.trends.ADMINS_GROUP", "nobody.listens")
    admin_socket = operator_socket(admin_user)
    operator_sock = operator_socket(operator)

    async def scenario() -> None:
        assert (await admin_socket.connect())[0]
        assert (await operator_sock.connect())[0]
        raised = await database_sync_to_async(anomaly_check)(now=now)
        wanted = {alert.pk for alert in raised}
        got: set[int] = set()
        deadline = time.monotonic() + 15
        while got != wanted:
            assert time.monotonic() < deadline, f"alerts {wanted - got} never recovered"
            message = await admin_socket.receive_json_from(timeout=10)
            if message["type"] == "anomaly.alert":
                assert message["alert_id"] not in got  # once each
                got.add(message["alert_id"])
        # the operator's heartbeats go by without an alert
        beats = 0
        while beats < 2:
            message = await operator_sock.receive_json_from(timeout=10)
            assert message["type"] != "anomaly.alert", message
            beats += message["type"] == "heartbeat"
        await admin_socket.disconnect()
        await operator_sock.disconnect()

    async_to_sync(scenario)()


def test_one_spike_is_one_alert_until_the_cooldown_has_passed(support_inbox) -> None:
    now = timezone.now()
    _burst(support_inbox, 8, topic="late_delivery", at=hour_floor(now))
    anomaly_check(now=now)
    assert len(_topic_alerts()) == 1
    # the check runs again (every ten minutes): nothing new
    assert anomaly_check(now=now + timedelta(minutes=10)) == []
    # the spike goes on into the next hour: still the same alert
    _burst(support_inbox, 9, topic="late_delivery", at=hour_floor(now) + timedelta(hours=1))
    anomaly_check(now=now + timedelta(hours=1))
    assert len(_topic_alerts()) == 1
    # a new spike after the cooldown is a new alert
    later = hour_floor(now) + timedelta(hours=8)
    _burst(support_inbox, 8, topic="late_delivery", at=later)
    anomaly_check(now=later + timedelta(minutes=5))
    assert [a.hour for a in _topic_alerts()] == [later, hour_floor(now)]


def test_a_quiet_hour_raises_nothing(support_inbox) -> None:
    now = timezone.now()
    _burst(support_inbox, 5, topic="late_delivery", at=hour_floor(now))
    assert anomaly_check(now=now) == []


def test_the_alert_is_posted_to_the_webhook(support_inbox) -> None:
    now = timezone.now()
    _burst(support_inbox, 8, topic="late_delivery", at=hour_floor(now))
    with fake_peer() as hook, override_settings(AI_ALERT_WEBHOOK_URL=f"{hook.url}/hooks/ops"):
        raised = anomaly_check(now=now)
    bodies = [r.json() for r in hook.requests]
    assert len(bodies) == len(raised) and {r.path for r in hook.requests} == {"/hooks/ops"}
    topic = next(b for b in bodies if b["alert"]["value"] == "late_delivery")
    assert topic["alert"]["observed"] == 8
    assert "late_delivery" in topic["text"] and "8 contacts" in topic["text"]
    assert {a.webhook_status for a in AnomalyAlert.objects.all()} == {"sent 200"}


def test_a_failing_webhook_is_recorded_on_the_alert(support_inbox) -> None:
    now = timezone.now()
    _burst(support_inbox, 8, topic="late_delivery", at=hour_floor(now))
    with fake_peer() as hook, override_settings(AI_ALERT_WEBHOOK_URL=hook.url):
        for _ in range(10):
            hook.answer_json(500, {"error": "down"})
        anomaly_check(now=now)
    assert _topic_alerts()[0].webhook_status == "failed: HTTP 500"


def test_segments_include_channel_team_topic_and_the_orders_city(support, support_inbox) -> None:
    now = timezone.now()
    order = factories.make_order(customer="crm-ilya", address="г. Казань, ул. Баумана, 12")
    customer = order.customer
    conversation = factories.make_conversation(inbox=support_inbox, customer=customer)
    Conversation.objects.filter(pk=conversation.pk).update(topic="late_delivery")
    # the classifier said "order"; an operator corrected it to "complaint"
    Classification.objects.update_or_create(
        conversation=conversation,
        defaults={
            "label": "order",
            "confidence": 0.9,
            "model_version": "test",
            "stage": "first",
            "classified_at": now,
            "corrected_label": "complaint",
            "corrected_at": now,
        },
    )
    counts = segment_counts(start=now - timedelta(hours=1), end=now + timedelta(minutes=1))
    assert set(counts) == {
        ("all", ""),
        ("channel", support_inbox.kind),
        ("team", str(support.pk)),
        ("topic", "late_delivery"),
        ("label", "complaint"),
        ("city", "Казань"),
    }
    assert city_of("Kazan, 5 Baker Street") == "Kazan"
    assert city_of("ул. Ленина, 5") == ""


def test_the_statistics_page_shows_alerts_and_topic_trends(client, admin_user, support_inbox):
    now = timezone.now()
    _burst(support_inbox, 8, topic="late_delivery", at=hour_floor(now))
    _burst(support_inbox, 2, topic="late_delivery", at=now - timedelta(days=9))
    _burst(support_inbox, 1, topic="refund", at=now - timedelta(days=10))
    anomaly_check(now=now)
    assert topic_trends(now=now + timedelta(minutes=1)) == [
        {"topic": "late_delivery", "this_week": 8, "last_week": 2, "change": 300},
        {"topic": "refund", "this_week": 0, "last_week": 1, "change": -100},
    ]
    client.force_login(admin_user)
    page = client.get("/statistics/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="anomaly-alerts"' in html and 'id="topic-trend-table"' in html
    assert "late_delivery" in html and "+300%" in html


def test_two_checks_at_once_raise_one_alert_for_a_segment() -> None:
    # given: two checks that each see the spike, one in the hour that ended, one in this hour
    hour = hour_floor(timezone.now())
    barrier = threading.Barrier(2)
    results: list[AnomalyAlert | None] = []

    def raise_for(at) -> None:
        try:
            barrier.wait(timeout=10)
            results.append(
                anomaly_alert_raise(
                    segment=("topic", "late_delivery"),
                    hour=at,
                    observed=9,
                    expected=1.0,
                    p_value=1e-6,
                    cooldown_hours=6,
                    now=timezone.now(),
                )
            )
        finally:
            connection.close()

    # when
    threads = [
        threading.Thread(target=raise_for, args=(at,)) for at in (hour - timedelta(hours=1), hour)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    # then
    assert len(results) == 2 and sum(r is not None for r in results) == 1
    assert len(_topic_alerts()) == 1
