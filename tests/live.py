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
