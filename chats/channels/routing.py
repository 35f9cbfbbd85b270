"""The client WebSocket route (widget and app). Mounted outside the operator socket's
allowed-hosts origin check: the widget lives on other sites, and the consumer holds it to
the inbox's own allow-list."""

from __future__ import annotations

from django.urls import path

from chats.channels.client.consumer import ClientConsumer

client_websocket_urlpatterns = [
    path("ws/client/<str:key>/", ClientConsumer.as_asgi()),
]
