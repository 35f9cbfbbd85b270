"""For each scope × each entry point, a user reaches exactly what the scope allows; the rest
is a 404 (or simply absent from lists), never a 403 that confirms it exists.

Three conversations, all open: `assigned` (support team, assigned to the assigned-scope user),
`support` (support team, in the queue), `delivery` (delivery team, in the queue).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.test import Client

from accounts.models import Role
from chats.selectors import inbox_views
from smartdesk.asgi import application
from tests import factories
from tests.live import OperatorSocket

pytestmark = pytest.mark.django_db(transaction=True)

LINK = re.compile(r"/inbox/c/(\d+)/")


@pytest.fixture
def world(admin_user, operator, support, support_inbox, delivery_inbox) -> dict[str, Any]:
    assigned_role = factories.make_role(name="Contractor", slug="contractor", scope="assigned")
    contractor = factories.make_user(username="kira", role=assigned_role, teams=[support])
    names = {"assigned": "Alpha", "support": "Bravo", "delivery": "Charlie"}
    conversations = {
        "assigned": factories.make_conversation(
            inbox=support_inbox,
            customer=factories.make_customer("Matrix", names["assigned"]),
            assignee=contractor,
        ),
        "support": factories.make_conversation(
            inbox=support_inbox, customer=factories.make_customer("Matrix", names["support"])
        ),
        "delivery": factories.make_conversation(
            inbox=delivery_inbox, customer=factories.make_customer("Matrix", names["delivery"])
        ),
    }
    return {
        "users": {Role.Scope.ALL: admin_user, Role.Scope.TEAMS: operator, "assigned": contractor},
        "conversations": conversations,
    }


EXPECTED = {
    Role.Scope.ALL: {"assigned", "support", "delivery"},
    Role.Scope.TEAMS: {"assigned", "support"},
    "assigned": {"assigned"},
}


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _names(world: dict[str, Any], ids: set[int]) -> set[str]:
    by_id = {c.pk: name for name, c in world["conversations"].items()}
    return {by_id[i] for i in ids if i in by_id}


@pytest.mark.parametrize("scope", list(EXPECTED))
def test_each_scope_reaches_exactly_what_it_allows(world, scope) -> None:
    user = world["users"][scope]
    client = _client(user)
    expected = EXPECTED[scope]
    conversations = world["conversations"]

    # list page: every view the user has, together
    listed: set[int] = set()
    for view in inbox_views(user):
        page = client.get("/inbox/list/", {"view": view.slug})
        assert page.status_code == 200, view.slug
        listed |= {int(i) for i in LINK.findall(page.content.decode())}
    assert _names(world, listed) == expected, "list page"

    # search, page and API
    found = {int(i) for i in LINK.findall(client.get("/inbox/", {"q": "Matrix"}).content.decode())}
    assert _names(world, found) == expected, "search page"
    api_found = {c["id"] for c in client.get("/api/v1/search/", {"q": "Matrix"}).json()["results"]}
    assert _names(world, api_found) == expected, "search API"

    # API list
    api_listed = {c["id"] for c in client.get("/api/v1/conversations/").json()["results"]}
    assert _names(world, api_listed) == expected, "API list"

    for name, conversation in conversations.items():
        allowed = name in expected
        status = 200 if allowed else 404
        assert client.get(f"/inbox/c/{conversation.pk}/").status_code == status, ("thread", name)
        assert client.get(f"/api/v1/conversations/{conversation.pk}/").status_code == status, (
            "API detail",
            name,
        )
        created = client.post(
            f"/api/v1/conversations/{conversation.pk}/messages/",
            {"kind": "note", "body": f"note by {user.username}"},
            content_type="application/json",
        )
        assert created.status_code == (201 if allowed else 404), ("message create", name)
        assert conversation.messages.filter(body=f"note by {user.username}").exists() == allowed

    # WebSocket subscribe
    socket = OperatorSocket(
        application,
        "/ws/operator/",
        headers=[
            (b"origin", b"http://127.0.0.1"),
            (b"host", b"127.0.0.1"),
            (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
        ],
    )

    async def subscribe_all() -> dict[str, str]:
        assert (await socket.connect())[0]
        answers = {}
        for name, conversation in conversations.items():
            await socket.send_json_to({"type": "subscribe", "conversation_id": conversation.pk})
            answers[name] = (await socket.receive_json_from(timeout=3))["type"]
        await socket.disconnect()
        return answers

    answers = async_to_sync(subscribe_all)()
    assert {n for n, a in answers.items() if a == "subscribed"} == expected, "WebSocket"
    assert {a for n, a in answers.items() if n not in expected} <= {"error"}
