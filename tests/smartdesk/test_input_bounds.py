"""Every API and webhook refuses hostile input with a JSON 4xx, never a 500:
deeply nested JSON, NUL characters (PostgreSQL refuses them in text), oversize bodies, and
HTTP methods no view knows."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from chats.models import Conversation, Inbox, Message
from customers.auth import integration_client_create
from customers.models import Customer, Identity
from tests import factories

pytestmark = pytest.mark.django_db

DEEP = "[" * 10_000 + "]" * 10_000
DEEP_OBJECT = '{"a":' * 5_000 + "1" + "}" * 5_000
FIVE_MB = 5 * 1024 * 1024
FORM = "application/x-www-form-urlencoded"


def counts() -> tuple[int, ...]:
    return (
        Customer.objects.count(),
        Identity.objects.count(),
        Conversation.objects.count(),
        Message.objects.count(),
    )


@pytest.fixture
def endpoints(admin_user, support, support_inbox):
    """(name, client, method, url, extra headers) for one endpoint of each inbound kind."""
    conversation = factories.make_conversation(inbox=support_inbox, text="Где мой заказ?")
    widget = factories.make_inbox(name="Website", kind=Inbox.Kind.WIDGET, team=support)
    telegram = factories.make_inbox(
        name="Bot", kind=Inbox.Kind.TELEGRAM, team=support, bot_token="1:x"
    )
    backoffice = integration_client_create(name="CRM")
    operator_api = APIClient()
    operator_api.force_login(admin_user)
    crm = APIClient()
    crm.credentials(HTTP_AUTHORIZATION=f"Bearer {backoffice.token}")
    anonymous = APIClient()
    return [
        ("snooze", operator_api, "post", f"/api/v1/conversations/{conversation.pk}/snooze/", {}),
        ("send", operator_api, "post", f"/api/v1/conversations/{conversation.pk}/messages/", {}),
        ("backoffice", crm, "put", "/api/v1/backoffice/customers/c-1/", {}),
        ("orders", crm, "post", "/api/v1/backoffice/orders/bulk/", {}),
        ("identify", anonymous, "post", f"/api/v1/client/{widget.key}/identify/", {}),
        (
            "inbound",
            anonymous,
            "post",
            f"/api/v1/inboxes/{support_inbox.key}/messages/",
            {"HTTP_AUTHORIZATION": f"Bearer {support_inbox.secret}"},
        ),
        (
            "telegram",
            Client(),
            "post",
            f"/integrations/telegram/{telegram.pk}/webhook",
            {"HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN": telegram.secret},
        ),
    ]


def send(client, method: str, url: str, body: str | bytes, headers: dict):
    return getattr(client, method)(url, body, content_type="application/json", **headers)


def assert_json_refusal(response, status: int, what: str) -> dict:
    assert response.status_code == status, (what, response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json"), what
    return response.json()


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT], ids=["arrays", "objects"])
def test_deeply_nested_json_is_a_json_400_everywhere(endpoints, body) -> None:
    before = counts()
    for name, client, method, url, headers in endpoints:
        response = send(client, method, url, body, headers)
        detail = json.dumps(assert_json_refusal(response, 400, name))
        assert "nested too deeply" in detail, (name, detail)
    assert counts() == before


def test_moderate_nesting_past_the_limit_is_refused_too(endpoints) -> None:
    # 70 levels: Python parses it, our limit (64) refuses it
    body = '{"text": "hi", "extra": ' + "[" * 70 + "]" * 70 + "}"
    for name, client, method, url, headers in endpoints:
        response = send(client, method, url, body, headers)
        assert_json_refusal(response, 400, name)


def test_a_nul_in_a_json_string_is_a_json_400(endpoints) -> None:
    before = counts()
    body = json.dumps(
        {
            "external_id": "m\x00-1",
            "text": "a\x00b",
            "preset": "1h",
            "signature": "00",
            "customer": {"kind": "email", "value": "x@y.test"},
            "first_name": "Ol\x00ga",
            "orders": [],
            "update_id": 1,
            "message": {"text": "\x00"},
            "key\x00": 1,
        }
    )
    for name, client, method, url, headers in endpoints:
        response = send(client, method, url, body, headers)
        assert "NUL" in json.dumps(assert_json_refusal(response, 400, name)), name
    assert counts() == before


def test_a_nul_in_an_address_or_query_is_a_400(admin_user) -> None:
    backoffice = integration_client_create(name="CRM")
    crm = APIClient()
    crm.credentials(HTTP_AUTHORIZATION=f"Bearer {backoffice.token}")
    operator_api = APIClient()
    operator_api.force_login(admin_user)
    page = Client()
    page.force_login(admin_user)

    for client, url in (
        (crm, "/api/v1/backoffice/customers/c%00-1/"),
        (crm, "/api/v1/backoffice/customers/c%00-1/loyalty/"),
        (crm, "/api/v1/backoffice/orders/o%00/"),
        (operator_api, "/api/v1/conversations/?q=%00"),
        (operator_api, "/api/v1/reports/conversations/?team=1%00"),
    ):
        assert_json_refusal(client.get(url), 400, url)
    assert page.get("/inbox/?q=a%00b").status_code == 400
    form = page.post("/inbox/c/1/transfer/", "team=1%00&reason=x", content_type=FORM)
    assert form.status_code == 400
    assert page.get("/inbox/?q=a%00b")["Content-Type"].startswith("text/plain")


def test_a_five_megabyte_telegram_update_is_a_json_413(endpoints) -> None:
    body = json.dumps({"update_id": 1, "message": {"text": "x" * FIVE_MB}})
    before = counts()

    for name, client, method, url, headers in endpoints:
        response = send(client, method, url, body, headers)
        assert "too large" in json.dumps(assert_json_refusal(response, 413, name))
    assert counts() == before


def test_a_body_over_the_telegram_limit_but_under_django_s_is_a_json_413(endpoints) -> None:
    name, client, method, url, headers = endpoints[-1]
    body = json.dumps({"update_id": 1, "message": {"text": "x" * 1_500_000}})

    response = send(client, method, url, body, headers)

    assert_json_refusal(response, 413, name)


def _api_routes() -> list[str]:
    """Every `/api/v1/` route, ids filled in: `<int:x>` → 1, `<str:x>` → x."""
    routes: list[str] = []

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and route.startswith("api/v1/"):
                routes.append("/" + re.sub(r"<(?:(\w+):)?\w+>", _fill, route))

    walk(get_resolver().url_patterns, "")
    return sorted(set(routes))


def _fill(match: re.Match[str]) -> str:
    return "1" if match.group(1) == "int" else "x"


def test_every_api_route_answers_unknown_methods_with_405(admin_user) -> None:
    client = APIClient()
    client.force_login(admin_user)
    routes = _api_routes()
    assert len(routes) > 20

    for url in routes:
        response = client.generic("TRACE", url)
        assert response.status_code == 405, (url, response.status_code)
        assert response["Allow"], url
        assert response["Content-Type"].startswith("application/json"), url

    assert client.generic("TRACE", "/api/v1/no-such-thing/").status_code == 404


def test_every_api_route_survives_deep_json_and_nul_bytes(admin_user) -> None:
    client = APIClient()
    client.force_login(admin_user)
    for url in _api_routes():
        for method in ("post", "put", "patch"):
            for body in (DEEP, '{"a": "\\u0000"}'):
                response = send(client, method, url, body, {})
                assert response.status_code < 500, (method, url, response.status_code)


def test_a_body_under_the_limit_is_read(endpoints) -> None:
    # 2 MB: under DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB): judged by the serializer, not refused
    _name, client, method, url, headers = next(e for e in endpoints if e[0] == "orders")
    body = json.dumps({"orders": [{"external_id": "x", "note": "y" * 2_000_000}]})

    response = send(client, method, url, body, headers)

    assert response.status_code in (200, 400), response.content[:300]


def test_a_multipart_body_past_one_attachment_is_a_413_before_it_is_read(settings) -> None:
    """An upload is streamed to disk, but not without end: one attachment and its fields."""
    from django.test import RequestFactory

    from smartdesk.core.middleware import InputBoundsMiddleware

    settings.ATTACHMENT_MAX_BYTES = 1000
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 500
    reached = []
    middleware = InputBoundsMiddleware(lambda request: reached.append(request) or None)

    def upload(length: int):
        request = RequestFactory().post("/api/v1/client/messages/")
        request.META["CONTENT_TYPE"] = "multipart/form-data; boundary=x"
        request.META["CONTENT_LENGTH"] = str(length)
        return middleware(request)

    refused = upload(1501)
    assert refused.status_code == 413
    assert "too large" in json.loads(refused.content)["detail"]
    assert reached == []
    passed = upload(1500)
    assert len(reached) == 1, passed.content


def test_a_chunked_form_with_a_nul_is_a_400(admin_user) -> None:
    from django.test import RequestFactory

    from smartdesk.core.middleware import InputBoundsMiddleware

    middleware = InputBoundsMiddleware(lambda request: None)
    request = RequestFactory().post("/inbox/c/1/transfer/", "team=1%00", content_type=FORM)
    del request.META["CONTENT_LENGTH"]
    request.META["HTTP_TRANSFER_ENCODING"] = "chunked"

    assert middleware(request).status_code == 400
