"""The base of every WebSocket consumer: authenticated users only, metrics, forwarding."""

from __future__ import annotations

from typing import Any, ClassVar

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from smartdesk.metrics import WEBSOCKET_ACCEPTED, WEBSOCKET_CONNECTIONS

# Close codes in the private range (4000-4999) so the browser can tell why.
CLOSE_UNAUTHENTICATED = 4401


class AuthenticatedJsonConsumer(AsyncJsonWebsocketConsumer):
    """Accepts only a logged-in user; joins the groups `initial_groups()` names.

    Subclasses decide which groups a user may hear (through the access gate) and never
    do more with an event than forward it.
    """

    endpoint: ClassVar[str] = "unnamed"

    async def connect(self) -> None:
        self.joined: set[str] = set()
        self.counted = False
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        for group in await self.initial_groups(user):
            await self.join(group)
        await self.accept()
        self.counted = True
        WEBSOCKET_CONNECTIONS.labels(self.endpoint).inc()
        WEBSOCKET_ACCEPTED.labels(self.endpoint).inc()

    async def initial_groups(self, user: Any) -> list[str]:
        return []

    async def join(self, group: str) -> None:
        await self.channel_layer.group_add(group, self.channel_name)
        self.joined.add(group)

    async def leave(self, group: str) -> None:
        await self.channel_layer.group_discard(group, self.channel_name)
        self.joined.discard(group)

    async def disconnect(self, code: int) -> None:
        for group in list(getattr(self, "joined", ())):
            await self.leave(group)
        if getattr(self, "counted", False):
            WEBSOCKET_CONNECTIONS.labels(self.endpoint).dec()
            self.counted = False

    async def realtime_event(self, message: dict[str, Any]) -> None:
        await self.send_json(message["event"])
