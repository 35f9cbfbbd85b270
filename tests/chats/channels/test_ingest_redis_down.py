"""Redis down: ingest answers 503 with Retry-After or stores and answers 201 — never a 500 —
and a retry once Redis is back stores nothing twice.

The test starts a redis-server of its own on a free port (never the shared one), points the
cache and the channel layer at it, stops it, and calls the inbound API and the widget.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings
from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.views import APIView

from accounts.models import Team
from chats.models import Conversation, Inbox, Message
from customers.models import Customer, Identity
from tests import factories
from tests.chats.channels.conftest import committed
from tests.system.harness import RedisServer

pytestmark = pytest.mark.django_db(transaction=True)

SITE = "https://shop.example.com"


def _redis_settings(url: str) -> dict:
    return {
        "CACHES": {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": url,
                "KEY_PREFIX": "redis-down-test",
                "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
            }
        },
        "CHANNEL_LAYERS": {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {
                    "hosts": [{"address": url, "socket_connect_timeout": 0.5}],
                    "prefix": "redis-down-test",
                },
            }
        },
    }


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    try:
        with override_settings(**_redis_settings(server.url)):
            yield server
    finally:
        server.stop()


def stored() -> tuple[int, int, int, int]:
    return (
        Customer.objects.count(),
        Identity.objects.count(),
        Conversation.objects.count(),
        Message.objects.count(),
    )


def inbound(inbox: Inbox, external_id: str):
    body = {
        "external_id": external_id,
        "customer": {"kind": "email", "value": "olga@example.test", "first_name": "Olga"},
        "text": "Where is my order?",
    }
    with committed():
        return APIClient().post(
            f"/api/v1/inboxes/{inbox.key}/messages/",
            json.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {inbox.secret}",
        )


def assert_no_500(response, what: str) -> None:
    # Served (stored or read) or "try again later" -- never a 500, nor a 4xx blaming the caller.
    assert response.status_code in (200, 201, 503), (
        what,
        response.status_code,
        response.content[:300],
    )
    if response.status_code == 503:
        assert int(response["Retry-After"]) > 0, what
        assert response["Content-Type"].startswith("application/json"), what


def test_the_inbound_api_never_answers_500_with_redis_down_and_a_retry_stores_once(
    redis_server, support: Team
) -> None:
    inbox = factories.make_inbox(name="Website API", team=support)
    # given: Redis is up and in use
    assert inbound(inbox, "warm-up").status_code == 201
    before = stored()

    # when: Redis stops
    redis_server.stop()
    response = inbound(inbox, "m-1")

    # then: stored and 201, or 503 with Retry-After — and never 500
    assert_no_500(response, "inbound with redis down")
    during = stored()
    if response.status_code == 201:
        assert during[3] == before[3] + 1
    else:
        assert during == before

    # and: a retry when Redis is back stores the message exactly once
    redis_server.start()
    cache.close()
    again = inbound(inbox, "m-1")
    assert again.status_code in (200, 201), again.content
    assert Message.objects.filter(external_id="m-1").count() == 1
    assert stored()[3] == before[3] + 1


def test_the_widget_session_never_answers_500_with_redis_down(redis_server, support: Team) -> None:
    widget = factories.make_inbox(
        name="Website", kind=Inbox.Kind.WIDGET, team=support, allowed_origins=SITE + "\n"
    )
    client = APIClient()
    client.credentials(HTTP_ORIGIN=SITE)
    assert client.post(f"/api/v1/client/{widget.key}/session/").status_code == 201

    redis_server.stop()
    session = client.post(f"/api/v1/client/{widget.key}/session/")
    assert_no_500(session, "widget session with redis down")

    redis_server.start()
    cache.close()
    back = client.post(f"/api/v1/client/{widget.key}/session/")
    assert back.status_code == 201


def test_a_widget_message_with_redis_down_is_stored_once_across_the_retry(
    redis_server, support: Team
) -> None:
    widget = factories.make_inbox(
        name="Website", kind=Inbox.Kind.WIDGET, team=support, allowed_origins=SITE + "\n"
    )
    client = APIClient()
    client.credentials(HTTP_ORIGIN=SITE)
    token = client.post(f"/api/v1/client/{widget.key}/session/").json()["token"]
    client.credentials(HTTP_ORIGIN=SITE, HTTP_AUTHORIZATION=f"Bearer {token}")
    url = f"/api/v1/client/{widget.key}/messages/"
    body = {"client_id": "c-1", "text": "Здравствуйте"}

    redis_server.stop()
    with committed():
        down = client.post(url, body, format="json")
    assert_no_500(down, "widget message with redis down")
    assert_no_500(client.get(url), "widget history with redis down")

    redis_server.start()
    cache.close()
    with committed():
        back = client.post(url, body, format="json")
    assert back.status_code in (200, 201), back.content
    assert Message.objects.filter(conversation__inbox=widget).count() == 1


# --- the safety net: any view that meets Redis down answers 503, not 500 ---------------------


class _CacheReadingApiView(APIView):
    authentication_classes: list = []
    permission_classes: list = []

    def get(self, request: Request) -> Response:
        return Response({"value": cache.get("anything")})


def _cache_reading_webhook(request: HttpRequest) -> HttpResponse:
    return HttpResponse(str(cache.get("anything")))


urlpatterns = [
    path("api/v1/test-cache/", _CacheReadingApiView.as_view()),
    path("integrations/test-cache/", _cache_reading_webhook),
]


@override_settings(ROOT_URLCONF=__name__)
def test_a_view_that_meets_redis_down_answers_503_with_retry_after(redis_server) -> None:
    assert APIClient().get("/api/v1/test-cache/").status_code == 200
    redis_server.stop()

    for client, url in (
        (APIClient(), "/api/v1/test-cache/"),
        (Client(), "/integrations/test-cache/"),
    ):
        response = client.get(url)
        assert response.status_code == 503, (url, response.status_code)
        assert int(response["Retry-After"]) > 0
        assert response["Content-Type"].startswith("application/json"), url
