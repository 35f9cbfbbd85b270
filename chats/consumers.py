"""The operator's one WebSocket: the doorbell for everything the operator may see.

On connect it joins the groups of the user's scope (`live_groups_for`). The browser may
`subscribe` to a conversation (checked against the gate), and on reconnect `resume` with
the last event id it saw: the consumer replays what it missed from the live-event log, then
carries on live, never sending one event twice. An `access.changed` event (new role, scope,
teams, or deactivation) makes the consumer recompute its groups at once.

The socket is also the operator's heartbeat: on connect and on every `ping` it records that
they are there (`presence_heartbeat`), which keeps them online for distribution and brings
back an operator the sweep had made away for silence.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from channels.db import database_sync_to_async
from django.http import Http404

from accounts.models import User
from accounts.services import presence_heartbeat
from chats.selectors import (
    conversation_for,
    live_event_horizon,
    live_events_since,
    live_groups_for,
)
from smartdesk.consumers import AuthenticatedJsonConsumer
from smartdesk.realtime import conversation_group

CLOSE_DEACTIVATED = 4403
REPLAY_LIMIT = 500
REMEMBERED = 2000
# Changes after which a subscribed conversation may no longer be visible to this user.
SCOPE_CHANGES = {
    "transferred",
    "unassigned",
    "assigned",
    "deleted",
}  # ids already forwarded, to drop the copies that arrive through other groups
MAX_SEEN = 1000


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


@database_sync_to_async
def _heartbeat(user_id: int) -> None:
    presence_heartbeat(user_id=user_id)


@database_sync_to_async
def _fresh_user(pk: int) -> User | None:
    return User.objects.filter(pk=pk).first()


@database_sync_to_async
def _groups_for(user: User, subscriptions: set[int]) -> set[str]:
    groups = live_groups_for(user)
    for pk in subscriptions:
        try:
            conversation_for(user, pk)
        except Http404:
            continue
        groups.add(conversation_group(pk))
    return groups


@database_sync_to_async
def _visible(user: User, pk: int) -> bool:
    try:
        conversation_for(user, pk)
    except Http404:
        return False
    return True


@database_sync_to_async
def _replay(user: User, after: int, exclude: set[int]) -> tuple[list[dict[str, Any]], int | None]:
    return live_events_since(user, after=after, exclude=exclude, limit=REPLAY_LIMIT), (
        live_event_horizon()
    )


class OperatorConsumer(AuthenticatedJsonConsumer):
    endpoint = "operator"

    async def initial_groups(self, user: Any) -> list[str]:
        self.user = await _fresh_user(user.pk)
        self.subscriptions: set[int] = set()
        self._order: deque[int] = deque()
        self._forwarded: set[int] = set()
        await _heartbeat(user.pk)
        return sorted(await _groups_for(self.user, set()))

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "ping":
            await _heartbeat(self.user.pk)
            await self.send_json({"type": "pong"})
        elif kind == "resume":
            await self._resume(content)
        elif kind == "subscribe":
            await self._subscribe(content.get("conversation_id"))
        elif kind == "unsubscribe":
            pk = _int(content.get("conversation_id"))
            if pk in self.subscriptions:
                self.subscriptions.discard(pk)
                await self.leave(conversation_group(pk))
        else:
            await self.send_json({"type": "error", "error": "unknown message type"})

    async def _subscribe(self, raw: Any) -> None:
        pk = _int(raw)
        if pk is None or not await _visible(self.user, pk):
            # Missing and not visible are the same answer.
            await self.send_json({"type": "error", "code": 404, "conversation_id": raw})
            return
        self.subscriptions.add(pk)
        await self.join(conversation_group(pk))
        await self.send_json({"type": "subscribed", "conversation_id": pk})

    async def _resume(self, content: dict[str, Any]) -> None:
        last_id = _int(content.get("last_id"))
        raw_seen = content.get("seen") or []
        if last_id is None or not isinstance(raw_seen, list):
            await self.send_json(
                {"type": "error", "error": "resume needs last_id (int) and seen (list of ints)"}
            )
            return
        seen = {s for s in raw_seen[:MAX_SEEN] if _int(s) is not None}
        # Ids below last_id that the browser never got (they arrived out of order through
        # different publishers) are replayed too: everything above the oldest id it reports.
        after = min([last_id, *seen]) if seen else last_id
        events, horizon = await _replay(self.user, after, seen | self._forwarded)
        if horizon is not None and after < horizon - 1:
            await self.send_json({"type": "resync", "reason": "too far behind"})
            return
        for event in events:
            self._remember(event["id"])
            await self.send_json(event)
        if len(events) == REPLAY_LIMIT:
            await self.send_json({"type": "resync", "reason": "too many missed events"})
        else:
            await self.send_json({"type": "resumed", "replayed": len(events)})

    def _remember(self, seq: int) -> None:
        self._forwarded.add(seq)
        self._order.append(seq)
        while len(self._order) > REMEMBERED:
            self._forwarded.discard(self._order.popleft())

    async def realtime_event(self, message: dict[str, Any]) -> None:
        group = message.get("group")
        if group is not None and group not in self.joined:
            return  # queued before this socket left the group: no longer ours to hear
        event = message["event"]
        if event.get("type") == "access.changed":
            await self._refresh_access()
            if self.counted:
                await self.send_json(event)
            return
        seq = event.get("id")
        if seq is not None:
            if seq in self._forwarded:
                return
            self._remember(seq)
        await self.send_json(event)
        if event.get("change") in SCOPE_CHANGES and event.get("conversation_id") in (
            self.subscriptions
        ):
            await self._recheck_subscription(event["conversation_id"])

    async def _recheck_subscription(self, pk: int) -> None:
        """A transfer, unassignment or deletion may take the conversation out of sight: then
        stop hearing it (this event, which says so, was the last one)."""
        if not await _visible(self.user, pk):
            self.subscriptions.discard(pk)
            await self.leave(conversation_group(pk))

    async def _refresh_access(self) -> None:
        user = await _fresh_user(self.user.pk)
        if user is None or not user.is_active:
            await self.close(code=CLOSE_DEACTIVATED)
            await self.disconnect(CLOSE_DEACTIVATED)
            return
        self.user = user
        wanted = await _groups_for(user, self.subscriptions)
        for group in self.joined - wanted:
            await self.leave(group)
            if group.startswith("conversation."):
                self.subscriptions.discard(int(group.split(".", 1)[1]))
        for group in wanted - self.joined:
            await self.join(group)
