"""The operator socket as tests drive it: connect, then take the server's `hello`."""

from __future__ import annotations

from typing import Any

from channels.testing import WebsocketCommunicator


class OperatorSocket(WebsocketCommunicator):
    """A `WebsocketCommunicator` for `/ws/operator/` whose `connect()` also reads the `hello`
    frame every accepted socket opens with, so a test's first `receive` is its first event."""

    hello: dict[str, Any] | None = None

    async def connect(self, timeout: float = 1) -> tuple[bool, Any]:
        accepted = await super().connect(timeout)
        if accepted[0]:
            self.hello = await self.receive_json_from(timeout=10)
            assert self.hello["type"] == "hello", self.hello
        return accepted


def operator_socket(user: Any) -> OperatorSocket:
    """A signed-in socket for `user`; build it outside the async scenario (signing in touches
    the database)."""
    from django.test import Client

    from smartdesk.asgi import application

    client = Client()
    client.force_login(user)
    cookie = client.cookies["sessionid"].value
    return OperatorSocket(
        application,
        "/ws/operator/",
        headers=[
            (b"origin", b"http://127.0.0.1"),
            (b"host", b"127.0.0.1"),
            (b"cookie", f"sessionid={cookie}".encode()),
        ],
    )
