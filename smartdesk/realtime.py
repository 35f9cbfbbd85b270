"""The only module that talks to the channel layer.

Services call `publish()` inside their transaction. The event is written to the live-event
log (`smartdesk.models.LiveEvent`) in that transaction and sent to its groups only after the
transaction commits, stamped with its commit-ordered `id` (the log's `seq`). No browser ever
hears of a row that was rolled back, and a browser that reconnects asks for everything after
the last id it saw: the database is the truth, the socket only rings the doorbell.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connections, transaction

from smartdesk.models import LiveEvent

# Users whose role scope is `all` conversations.
ADMINS_GROUP = "admins"
# The message type every consumer handles by forwarding the event to its browser.
FORWARD_TYPE = "realtime.event"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def team_group(team_id: int) -> str:
    return f"team.{team_id}"


def conversation_group(conversation_id: int) -> str:
    return f"conversation.{conversation_id}"


def publish(
    event: Mapping[str, Any],
    *,
    groups: Iterable[str],
    conversation_id: int | None = None,
    user_id: int | None = None,
    using: str = "default",
) -> LiveEvent:
    """Log `event` and send it to `groups` once the current transaction commits.

    The event must be a flat JSON-serialisable dict with a `type`; it is checked here, where
    it is built. `conversation_id` / `user_id` say who may replay it after a reconnect:
    whoever can see that conversation, or that user.
    """
    if "type" not in event:
        raise ValueError("a realtime event needs a 'type'")
    payload = json.loads(json.dumps(event))
    row = LiveEvent.objects.using(using).create(
        type=payload["type"], payload=payload, user_id=user_id, conversation_id=conversation_id
    )
    if connections[using].vendor != "postgresql":
        # SQLite has one writer at a time, so insertion order is commit order already.
        row.seq = row.pk
        row.save(update_fields=["seq"], using=using)
    targets = sorted(set(groups))
    transaction.on_commit(lambda: _send_committed(row.pk, payload, targets, using), using=using)
    return row


def _send_committed(pk: int, payload: dict[str, Any], groups: list[str], using: str) -> None:
    # On PostgreSQL the seq was stamped by the commit itself (see the migration).
    seq = LiveEvent.objects.using(using).filter(pk=pk).values_list("seq", flat=True).first()
    send_now({**payload, "id": seq}, groups)


def send_now(payload: dict[str, Any], groups: list[str]) -> None:
    layer = get_channel_layer()
    if layer is None or not groups:
        return
    # One hop into async for all the groups: each `async_to_sync` call runs its own event
    # loop, and the Redis layer opens its connections per loop.
    async_to_sync(_send_all)(layer, payload, groups)


async def _send_all(layer: Any, payload: dict[str, Any], groups: list[str]) -> None:
    for group in groups:
        await layer.group_send(group, {"type": FORWARD_TYPE, "event": payload, "group": group})
