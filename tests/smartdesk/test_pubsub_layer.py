"""Our pub/sub channel layer over the test's real Redis: what the library's does, plus every
message already read handed out in one go and decoded once."""

from __future__ import annotations

import asyncio
import uuid

from django.conf import settings

from smartdesk.core.layers import PubSubChannelLayer


def _layer() -> PubSubChannelLayer:
    return PubSubChannelLayer(
        hosts=[settings.REDIS_URL], prefix=f"test-pubsub-{uuid.uuid4().hex[:8]}"
    )


def test_a_burst_to_a_group_reaches_every_member_in_order() -> None:
    layer = _layer()

    async def scenario() -> list[list[int]]:
        members = [await layer.new_channel() for _ in range(5)]
        for channel in members:
            await layer.group_add("team", channel)
        for n in range(300):
            await layer.group_send("team", {"type": "note", "n": n})
        got = []
        for channel in members:
            got.append([(await layer.receive(channel))["n"] for _ in range(300)])
        await layer.flush()
        return got

    got = asyncio.run(asyncio.wait_for(scenario(), 30))

    assert got == [list(range(300))] * 5


def test_the_members_of_a_process_share_one_decoded_message() -> None:
    layer = _layer()

    async def scenario() -> list[dict]:
        members = [await layer.new_channel() for _ in range(3)]
        for channel in members:
            await layer.group_add("team", channel)
        await layer.group_send("team", {"type": "note", "text": "Привет"})
        received = [await layer.receive(channel) for channel in members]
        await layer.flush()
        return received

    received = asyncio.run(asyncio.wait_for(scenario(), 10))

    assert received[0] == {"type": "note", "text": "Привет"}
    assert received[0] is received[1] is received[2]
