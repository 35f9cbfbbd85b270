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


def _members() -> float:
    from smartdesk.core.metrics import LAYER_MEMBERS

    return LAYER_MEMBERS._value.get()


def test_the_process_counts_its_memberships_however_adds_and_discards_meet() -> None:
    """The memberships live in the process, not in Redis: `/metrics` is where a socket gone
    without leaving its groups shows (smartdesk_channel_layer_members)."""
    layer = _layer()
    start = _members()

    async def scenario() -> list[float]:
        seen = []
        a, b = await layer.new_channel(), await layer.new_channel()
        await layer.group_add("team", a)
        await layer.group_add("team", a)  # a renewal is not a second membership
        await layer.group_add("admins", a)
        await layer.group_add("team", b)
        seen.append(_members() - start)
        await layer.group_discard("team", b)
        await layer.group_discard("team", b)  # nothing left to leave
        seen.append(_members() - start)
        # a join still subscribing when the same membership is left (a subscribe and a leave
        # of a conversation at once) ends as neither
        await asyncio.gather(layer.group_add("sales", a), layer.group_discard("sales", a))
        seen.append(_members() - start)
        await asyncio.gather(layer.group_discard("admins", a), layer.group_add("admins", a))
        seen.append(_members() - start)
        await layer.flush()
        seen.append(_members() - start)
        return seen

    seen = asyncio.run(asyncio.wait_for(scenario(), 10))

    assert seen == [3, 2, 2, 2, 0]


def test_a_heartbeat_does_not_join_again_a_group_the_socket_left_meanwhile() -> None:
    """With this layer a membership left behind lasts as long as the process (nothing
    expires it), so the heartbeat's renewal must not put back a group left during it."""
    from smartdesk.core.consumers import GroupConsumer

    layer = _layer()

    async def scenario() -> tuple[set[str], set[str]]:
        consumer = GroupConsumer()
        consumer.channel_layer, consumer.closed = layer, False
        consumer.channel_name = await layer.new_channel()
        consumer.joined = set()
        await consumer.join("team")
        await consumer.join("conversation.7")
        renewing: list[str] = []
        go_on, first = asyncio.Event(), asyncio.Event()
        add = layer.group_add

        async def slow_add(group: str, channel: str) -> None:
            await add(group, channel)
            renewing.append(group)
            if len(renewing) == 1:
                first.set()
                await go_on.wait()  # Redis slow to answer the first renewal

        layer.group_add = slow_add  # type: ignore[method-assign]
        # when: the socket leaves one of its groups while the heartbeat renews the other
        tick = asyncio.ensure_future(consumer.tick())
        await first.wait()
        left = ({"team", "conversation.7"} - set(renewing)).pop()
        await consumer.leave(left)
        go_on.set()
        await tick
        process = layer._get_layer()
        held = {
            name for name, members in process.groups.items() if consumer.channel_name in members
        }
        kept = {process._get_group_channel_name(renewing[0])}
        await layer.flush()
        return held, kept

    held, kept = asyncio.run(asyncio.wait_for(scenario(), 10))

    # then: it is in the group it kept alone
    assert held == kept
