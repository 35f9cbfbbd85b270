"""The pub/sub channel layer, made to keep up with a floor's fan-out (docs/live.md).

channels-redis's `RedisPubSubChannelLayer` publishes a group send once and lets every process
subscribed to the group hand it to its own members, so a team of 30 sockets in one process
costs one Redis message, not 30 (the list-based layer pushes a copy per member and pops them
one round trip at a time). Two things in its receiving loop do not scale with the sockets of
one process, and this layer changes only those:

- it takes **one message per turn of the event loop**: with hundreds of busy sockets a turn
  takes milliseconds, so a process receiving a few hundred group messages a second falls
  behind for ever (seen in bench/live.py: 15-25 s behind after a minute at 20 messages/s,
  with the process at two thirds of a core). Here every message already read off the socket
  is handed out in the same turn (up to `DRAIN_MAX`);
- it hands each member the raw bytes, so 30 members decode the same message 30 times. Here it
  is decoded once and the members share the result: consumers read messages, never change
  them (smartdesk.core.consumers).

Its group memberships live in the process, not in Redis, so they are counted on `/metrics`
(`smartdesk_channel_layer_members`): a socket gone without leaving its groups would show.

Everything else (subscriptions, reconnection, sharding, `flush`) is the library's.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from channels_redis import pubsub

from smartdesk.core.metrics import LAYER_MEMBERS

logger = logging.getLogger(__name__)

# The most messages handed out in one turn of the loop: the sockets get their turn too.
DRAIN_MAX = 500
_DECODED = object()  # marks a queued message as already decoded


class _Shard(pubsub.RedisSingleShardConnection):
    async def _do_receiving(self) -> None:
        while True:
            try:
                if self._pubsub and self._pubsub.subscribed:
                    message = await self._pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=0.1
                    )
                    handed = 0
                    while message is not None:
                        self._receive_message(message)
                        handed += 1
                        if handed >= DRAIN_MAX:
                            break
                        # Already buffered: returns without waiting; nothing more: None.
                        message = await self._pubsub.get_message(
                            ignore_subscribe_messages=True, timeout=0
                        )
                else:
                    await asyncio.sleep(0.1)
            except (TimeoutError, asyncio.CancelledError, GeneratorExit):
                raise
            except BaseException:
                logger.exception("unexpected exception in the pub/sub receive task")
                await asyncio.sleep(1)

    def _receive_message(self, message: dict[str, Any] | None) -> None:
        if message is None:
            return
        name = message["channel"]
        if isinstance(name, bytes):
            name = name.decode()
        layer = self.channel_layer
        if name in layer.channels:
            targets = [name]
        elif name in layer.groups:
            targets = [c for c in layer.groups[name] if c in layer.channels]
        else:
            return
        try:
            content = layer.channel_layer.deserialize(message["data"])
        except Exception:  # one bad message must not pause the loop for every socket
            logger.exception("could not decode a message on %s", name)
            return
        decoded = (_DECODED, content)
        for channel in targets:
            layer.channels[channel].put_nowait(decoded)


class _LoopLayer(pubsub.RedisPubSubLoopLayer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shards = [_Shard(shard.host, self) for shard in self._shards]

    def _is_member(self, group: str, channel: str) -> bool:
        return channel in self.groups.get(self._get_group_channel_name(group), ())

    # Counted where the library changes its sets: before its first wait (the shard's lock, a
    # SUBSCRIBE), so that an add and a discard of one membership that overlap count once.
    async def group_add(self, group: str, channel: str) -> None:
        if channel in self.channels and not self._is_member(group, channel):
            LAYER_MEMBERS.inc()
        await super().group_add(group, channel)

    async def group_discard(self, group: str, channel: str) -> None:
        if self._is_member(group, channel):
            LAYER_MEMBERS.dec()
        await super().group_discard(group, channel)

    async def flush(self) -> None:
        LAYER_MEMBERS.dec(sum(len(members) for members in self.groups.values()))
        await super().flush()

    async def receive(self, channel: str) -> Any:
        if channel not in self.channels:
            await self._subscribe_to_channel(channel)
        queue = self.channels[channel]
        try:
            item = await queue.get()
        except (TimeoutError, asyncio.CancelledError, GeneratorExit):
            # As the library does: a consumer cancelled while waiting is going away.
            if channel in self.channels:
                del self.channels[channel]
                try:
                    await self._get_shard(channel).unsubscribe(channel)
                except BaseException:
                    logger.exception("unexpected exception while cleaning up a channel")
            raise
        if isinstance(item, tuple) and len(item) == 2 and item[0] is _DECODED:
            return item[1]
        return self.channel_layer.deserialize(item)


class PubSubChannelLayer(pubsub.RedisPubSubChannelLayer):
    """`channels_redis.pubsub.RedisPubSubChannelLayer` with the receiving loop above."""

    def _get_layer(self) -> _LoopLayer:
        loop = asyncio.get_running_loop()
        try:
            return self._layers[loop]
        except KeyError:
            layer = _LoopLayer(*self._args, **self._kwargs, channel_layer=self)
            self._layers[loop] = layer
            pubsub._wrap_close(self, loop)
            return layer
