"""`ws/client/<inbox key>/`: live replies for the widget and the app.

No user, no session: the client token names the visitor or customer, and the browser's
Origin must be on the inbox's allow-list (this route is outside the operator socket's
allowed-hosts check, since the widget lives on other sites). The socket only rings: each
event carries the customer-visible message; a client that was away asks the REST API for
`messages/?after=<last id>`.

Authentication is the first message, `{"type": "auth", "token": "<client token>"}`, answered
with `{"type": "ready"}` (or a close with 4403): a token in the URL would end up in access
logs. `?token=` in the URL is still accepted for older app builds (deprecated).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.core.exceptions import PermissionDenied

from chats.channels.client.delivery import client_group
from chats.channels.client.sessions import session_from_token
from chats.models import Inbox
from smartdesk.core.consumers import GroupConsumer

CLOSE_REFUSED = 4403
ENDPOINT = "client"


@database_sync_to_async
def _inbox_for(key: str, origin: str | None) -> Inbox | None:
    inbox = Inbox.objects.filter(
        key=key, kind__in=[Inbox.Kind.WIDGET, Inbox.Kind.MOBILE], is_active=True
    ).first()
    if inbox is None:
        return None
    if origin and origin.rstrip("/").lower() not in inbox.origins:
        return None
    return inbox


@database_sync_to_async
def _group_for(inbox: Inbox, token: str) -> str | None:
    try:
        session = session_from_token(inbox=inbox, token=token)
    except PermissionDenied:
        return None
    return client_group(inbox.pk, session.subject)


class ClientConsumer(GroupConsumer):
    """A widget visitor's or app user's socket: one group, their own conversation's replies."""

    endpoint = ENDPOINT

    async def connect(self) -> None:
        self.group: str | None = None
        headers = dict(self.scope.get("headers") or [])
        origin = headers.get(b"origin", b"").decode("latin-1") or None
        key = self.scope["url_route"]["kwargs"]["key"]
        self.inbox = await _inbox_for(key, origin)
        if self.inbox is None:
            await self.close(code=CLOSE_REFUSED)
            return
        query = parse_qs((self.scope.get("query_string") or b"").decode())
        token = (query.get("token") or [""])[0]
        if token:  # deprecated: the token in the URL
            group = await _group_for(self.inbox, token)
            if group is None:
                await self.close(code=CLOSE_REFUSED)
                return
            await self._join(group)
            await self.accept()
            return
        await self.accept()  # waits for {"type": "auth"}

    async def _join(self, group: str) -> None:
        self.group = group
        await self.join(group)
        self.count()
        self.start_ticker()

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if self.group is None:
            token = content.get("token") if kind == "auth" else None
            group = await _group_for(self.inbox, token) if isinstance(token, str) else None
            if group is None:
                await self.close(code=CLOSE_REFUSED)
                return
            await self._join(group)
            await self.send_json({"type": "ready"})
            return
        if kind == "ping":
            await self.send_json({"type": "pong"})

    async def realtime_event(self, message: dict[str, Any]) -> None:
        if self.group is not None:
            await self.send_json(message["event"])
