"""WebSocket routes collected from the apps."""

from __future__ import annotations

from chats.routing import websocket_urlpatterns as chats_websockets

websocket_urlpatterns = [*chats_websockets]
