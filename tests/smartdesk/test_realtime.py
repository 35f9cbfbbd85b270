"""Events reach the right operator sockets after commit, over the real Redis channel layer."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import transaction
from django.test import Client

from smartdesk.asgi import application
from smartdesk.core.consumers import CLOSE_UNAUTHENTICATED
from smartdesk.core.metrics import LIVE_DROPPED, WEBSOCKET_CONNECTIONS
from smartdesk.core.realtime import _Publisher, publish, user_group
from tests.live import OperatorSocket

pytestmark = pytest.mark.django_db(transaction=True)


def _session_cookie(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def _socket(cookie: str | None, origin: bytes = b"http://127.0.0.1:8000") -> WebsocketCommunicator:
    headers = [(b"origin", origin), (b"host", b"127.0.0.1:8000")]
    if cookie:
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    return OperatorSocket(application, "/ws/operator/", headers=headers)


@database_sync_to_async
def _publish_in_transaction(event: dict[str, Any], group: str, *, commit: bool) -> None:
    try:
        with transaction.atomic():
            publish(event, groups=[group])
            if not commit:
                raise RuntimeError("roll back")
    except RuntimeError:
        pass


def test_an_event_reaches_its_user_after_commit_and_no_one_else(operator, outsider) -> None:
    mine, theirs = _session_cookie(operator), _session_cookie(outsider)

    async def scenario() -> None:
        me, other = _socket(mine), _socket(theirs)
        assert (await me.connect())[0]
        assert (await other.connect())[0]

        event = {"type": "notice", "text": "Привет", "n": 1}
        await _publish_in_transaction(event, user_group(operator.pk), commit=True)

        received = await me.receive_json_from(timeout=3)
        assert isinstance(received.pop("id"), int)  # stamped by the commit
        assert received == event
        assert await other.receive_nothing(timeout=0.3)
        await me.disconnect()
        await other.disconnect()

    async_to_sync(scenario)()


def test_a_rolled_back_transaction_sends_nothing(operator) -> None:
    cookie = _session_cookie(operator)

    async def scenario() -> None:
        socket = _socket(cookie)
        assert (await socket.connect())[0]
        await _publish_in_transaction({"type": "ghost"}, user_group(operator.pk), commit=False)
        assert await socket.receive_nothing(timeout=0.5)
        await socket.disconnect()

    async_to_sync(scenario)()


def test_an_anonymous_socket_is_closed_with_a_reason() -> None:
    async def scenario() -> None:
        connected, code = await _socket(None).connect()
        assert (connected, code) == (False, CLOSE_UNAUTHENTICATED)

    async_to_sync(scenario)()


def test_a_socket_from_a_foreign_origin_is_refused(operator) -> None:
    cookie = _session_cookie(operator)

    async def scenario() -> None:
        connected, _ = await _socket(cookie, origin=b"https://evil.example").connect()
        assert connected is False

    async_to_sync(scenario)()


def test_open_sockets_are_counted_in_the_metrics(operator) -> None:
    cookie = _session_cookie(operator)
    gauge = WEBSOCKET_CONNECTIONS.labels("operator")

    async def scenario() -> None:
        start = gauge._value.get()
        socket = _socket(cookie)
        await socket.connect()
        assert gauge._value.get() == start + 1
        await socket.send_json_to({"type": "ping"})
        assert await socket.receive_json_from(timeout=3) == {"type": "pong"}
        await socket.disconnect()
        assert gauge._value.get() == start

    async_to_sync(scenario)()


def test_publish_refuses_an_event_that_is_not_json() -> None:
    with pytest.raises(TypeError):
        publish({"type": "bad", "when": object()}, groups=["user.1"])
    with pytest.raises(ValueError, match="type"):
        publish({"text": "no type"}, groups=["user.1"])


class _PartlyAwayLayer:
    """Group sends as Redis may answer them: one goes out, one never returns, one fails."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, list[int]]] = []

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        if group == "stuck":
            await asyncio.Event().wait()  # until the publisher gives up on it
        if group == "broken":
            raise ConnectionError("Redis went away")
        self.sent.append((group, [event["id"] for event in message["events"]]))


def test_a_batch_cut_short_counts_as_dropped_only_the_events_a_group_did_not_get() -> None:
    publisher = _Publisher()
    publisher.send_timeout = 0.2
    layer = _PartlyAwayLayer()
    dropped = LIVE_DROPPED.labels("publish")
    before = dropped._value.get()
    batch = [
        ({"type": "x", "id": 1}, ["fine"]),
        ({"type": "x", "id": 2}, ["fine", "stuck"]),
        ({"type": "x", "id": 3}, ["broken"]),
    ]

    async_to_sync(publisher._send)(layer, batch)

    # event 1 went out everywhere it was sent; 2 missed a group, 3 its only one
    assert layer.sent == [("fine", [1, 2])]
    assert dropped._value.get() == before + 2
