from __future__ import annotations

import pytest
from django.test import override_settings
from prometheus_client.parser import text_string_to_metric_families

from smartdesk.core.tasks import clear_expired_sessions

pytestmark = pytest.mark.django_db


def _families(text: str) -> dict[str, list]:
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def _value(samples: list, name: str, **labels: str) -> float:
    return sum(
        s.value
        for s in samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def test_metrics_parse_as_prometheus_text_and_count_requests(client) -> None:
    before = _families(client.get("/metrics").content.decode())
    client.get("/healthz")
    client.get("/healthz")

    response = client.get("/metrics")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    families = _families(response.content.decode())
    for name in (
        "smartdesk_http_requests",
        "smartdesk_http_request_duration_seconds",
        "smartdesk_websocket_connections",
        "smartdesk_celery_tasks",
    ):
        assert name in families, name
    labels = {"method": "GET", "route": "healthz", "status": "200"}
    counted = _value(families["smartdesk_http_requests"], "smartdesk_http_requests_total", **labels)
    previously = _value(
        before.get("smartdesk_http_requests", []), "smartdesk_http_requests_total", **labels
    )
    assert counted - previously == 2


def test_metrics_count_celery_task_outcomes(client) -> None:
    name = "smartdesk.tasks.clear_expired_sessions"
    before = _value(
        _families(client.get("/metrics").content.decode()).get("smartdesk_celery_tasks", []),
        "smartdesk_celery_tasks_total",
        task=name,
        outcome="SUCCESS",
    )

    clear_expired_sessions.delay()

    after = _value(
        _families(client.get("/metrics").content.decode())["smartdesk_celery_tasks"],
        "smartdesk_celery_tasks_total",
        task=name,
        outcome="SUCCESS",
    )
    assert after - before == 1


def test_metrics_refuse_addresses_outside_the_allow_list(client) -> None:
    response = client.get("/metrics", REMOTE_ADDR="10.1.2.3")

    assert response.status_code == 403
    assert b"metrics token" in response.content


@override_settings(METRICS_TOKEN="s3cret")
def test_metrics_with_a_token_need_the_token_from_anywhere(client) -> None:
    assert client.get("/metrics").status_code == 403  # even from loopback
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    ok = client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION="Bearer s3cret")
    assert ok.status_code == 200
