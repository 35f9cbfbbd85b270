"""The baseline of bench/live.py: a bare Channels consumer over the same Redis and the same
channel-layer configuration as the product (read from `smartdesk.settings` under the same
environment, with its own prefix), serving the same two socket routes.

    uvicorn bench.live_bare:application

`/ws/operator/?g=user.5,team.2` joins the groups named in the query (the bench passes the
groups the product's consumer joins for that operator) and forwards every `realtime.event`;
`/ws/client/<key>/?g=client.1.vabc` waits for `{"type": "auth"}`, joins its group and answers
`ready`, as the widget's socket does. Both answer `ping` with `pong`. No database, no session,
no access check: what is left is the cost of Channels, the layer and the socket itself.
Not used by the product or the tests.
"""

from __future__ import annotations

import asyncio
import copy
import importlib.util
import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import django
from django.conf import settings


def layer_settings() -> dict[str, Any]:
    """The product's CHANNEL_LAYERS as its settings module builds them from the environment.

    The settings file is run on its own: importing it as `smartdesk.settings` would run the
    package's `__init__` (the Celery app), which configures Django with the whole product."""
    path = Path(__file__).resolve().parents[1] / "smartdesk" / "settings.py"
    spec = importlib.util.spec_from_file_location("bench_live_product_settings", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return copy.deepcopy(module.CHANNEL_LAYERS)


if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-live-bare",  # noqa: S106 - no sessions, nothing signed
        ALLOWED_HOSTS=["*"],
        INSTALLED_APPS=["channels"],
        CHANNEL_LAYERS=layer_settings(),
        LOGGING_CONFIG=None,
    )
    django.setup()

from channels.generic.websocket import AsyncJsonWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

# The layer forgets a group member `group_expiry` s after its group_add (the product's settings
# make that 120 s and its consumer re-joins on every heartbeat): the bare consumer re-joins
# at the product's heartbeat interval too, or it would go deaf in the middle of a run.
REJOIN_SECONDS = float(os.environ.get("LIVE_HEARTBEAT_SECONDS") or 20)


class BareConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        query = parse_qs((self.scope.get("query_string") or b"").decode())
        self.wanted = [g for g in (query.get("g") or [""])[0].split(",") if g]
        self.joined: list[str] = []
        self.is_client = self.scope["path"].startswith("/ws/client/")
        if not self.is_client:
            await self._join()
        await self.accept()

    async def _join(self) -> None:
        for group in self.wanted:
            await self.channel_layer.group_add(group, self.channel_name)
            self.joined.append(group)
        self.rejoin = asyncio.create_task(self._rejoin_forever())

    async def _rejoin_forever(self) -> None:
        while True:
            await asyncio.sleep(REJOIN_SECONDS)
            for group in self.joined:
                await self.channel_layer.group_add(group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "ping":
            await self.send_json({"type": "pong"})
        elif kind == "auth" and self.is_client and not self.joined:
            await self._join()
            await self.send_json({"type": "ready"})

    async def disconnect(self, code: int) -> None:
        if getattr(self, "rejoin", None) is not None:
            self.rejoin.cancel()
        for group in self.joined:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.joined = []

    async def realtime_event(self, message: dict[str, Any]) -> None:
        await self.send_json(message["event"])


application = ProtocolTypeRouter(
    {
        "websocket": URLRouter(
            [
                path("ws/operator/", BareConsumer.as_asgi()),
                path("ws/client/<str:key>/", BareConsumer.as_asgi()),
            ]
        )
    }
)
