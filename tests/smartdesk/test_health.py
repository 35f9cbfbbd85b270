from __future__ import annotations

import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_touching_anything(client, django_assert_num_queries) -> None:
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ok_when_database_and_redis_answer(client) -> None:
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "redis": "ok"}


@override_settings(REDIS_URL="redis://127.0.0.1:1/0", READYZ_TIMEOUT_SECONDS=0.5)
def test_readyz_answers_503_naming_redis_when_redis_is_unreachable(client) -> None:
    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["redis"]
    assert body["checks"]["database"] == "ok"
    # an unauthenticated probe names the failure but not hosts, ports or users
    assert body["checks"]["redis"] == "error: ConnectionError"


def test_readyz_answers_503_naming_the_database_when_it_fails(client, monkeypatch) -> None:
    from django.db import OperationalError

    from smartdesk.core import health

    class _Broken:
        def cursor(self):
            raise OperationalError("connection refused")

    monkeypatch.setattr(health, "connections", {"default": _Broken()})
    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["failed"] == ["database"]
