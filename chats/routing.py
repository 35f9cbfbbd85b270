from __future__ import annotations

from django.urls import path

from chats.consumers import OperatorConsumer

websocket_urlpatterns = [
    path("ws/operator/", OperatorConsumer.as_asgi()),
]
