"""The operator socket's heartbeat: what the channel layer lost is recovered from the log.

The channel layer is at-most-once. These tests lose events the way Redis does — a group send
that reaches nobody, a group membership Redis forgot — and check that the socket's own
heartbeat forwards each missed event once, re-joins its groups, and names the watermark.
"""

from __future__ import annotations

import copy
import logging
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import channel_layers, get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from accounts.models import OperatorProfile
from smartdesk.core.metrics import LIVE_DROPPED, LIVE_RECOVERED, ChannelLayerCapacityFilter
from smartdesk.core.realtime import FORWARD_TYPE, publish, team_group
from tests import factories
from tests.live import OperatorSocket, operator_socket

pytestmark = pytest.mark.django_db(transaction=True)

receive = database_sync_to_async(factories.receive)


@database_sync_to_async
def _publish_lost(conversation_id: int) -> int:
    """An event logged for a conversation but sent to a group nobody is in: as good as lost."""
    with transaction.atomic():
        row = publish(
            {"type": "conversation.changed", "conversation_id": conversation_id, "change": "x"},
            groups=["nobody.listens"],
            conversation_id=conversation_id,
        )
    row.refresh_from_db()
    return row.seq


async def _until(socket: OperatorSocket, predicate: Any, timeout: float = 10) -> list[dict]:
    received = []
    while True:
        message = await socket.receive_json_from(timeout=timeout)
        received.append(message)
        if predicate(message):
            return received


@override_settings(LIVE_HEARTBEAT_SECONDS=0.3)
def test_the_heartbeat_forwards_an_event_the_channel_layer_lost_once(
    operator, support_inbox
) -> None:
    conversation = factories.make_conversation(inbox=support_inbox)
    socket = operator_socket(operator)
    recovered_before = LIVE_RECOVERED._value.get()

    async def scenario() -> None:
        assert (await socket.connect())[0]
        assert socket.hello["heartbeat"] == 0.3
        seq = await _publish_lost(conversation.pk)
        frames = await _until(
            socket, lambda m: m["type"] == "heartbeat" and m["last_id"] >= seq, timeout=10
        )
        got = [m for m in frames if m.get("id") == seq]
        assert len(got) == 1 and got[0]["conversation_id"] == conversation.pk
        # later heartbeats confirm it and never send it again
        later = await _until(socket, lambda m: m["type"] == "heartbeat", timeout=10)
        later += await _until(socket, lambda m: m["type"] == "heartbeat", timeout=10)
        assert all(m.get("id") != seq for m in later)
        await socket.disconnect()

    async_to_sync(scenario)()
    assert LIVE_RECOVERED._value.get() == recovered_before + 1


@database_sync_to_async
def _publish_lost_together(conversation_id: int, n: int) -> list[int]:
    """`n` events committed at once, sent to nobody."""
    with transaction.atomic():
        rows = [
            publish(
                {"type": "conversation.changed", "conversation_id": conversation_id},
                groups=["nobody.listens"],
                conversation_id=conversation_id,
            )
            for _ in range(n)
        ]
    for row in rows:
        row.refresh_from_db()
    return [row.seq for row in rows]


@override_settings(LIVE_HEARTBEAT_SECONDS=1)
def test_a_socket_behind_its_queue_is_not_replayed_what_is_still_on_its_way(
    operator, support_inbox, support
) -> None:
    conversation = factories.make_conversation(inbox=support_inbox)
    socket = operator_socket(operator)
    recovered_before = LIVE_RECOVERED._value.get()
    group = team_group(support.pk)

    async def scenario() -> None:
        assert (await socket.connect())[0]
        # given: six events committed at once that reach this socket a heartbeat apart, as
        # in a process behind its sockets: each waits in the socket's queue, it is not lost,
        # and the stream never stops (more heartbeats than the newest id's one-second cache)
        seqs = await _publish_lost_together(conversation.pk, 6)
        layer = get_channel_layer()
        frames: list[dict] = []
        for seq in seqs:  # each right after a heartbeat: every period hears one
            event = {"type": "conversation.changed", "conversation_id": conversation.pk}
            await layer.group_send(
                group, {"type": "realtime.event", "group": group, "event": {**event, "id": seq}}
            )
            frames += await _until(socket, lambda m: m["type"] == "heartbeat")
        # then the stream falls quiet, and a heartbeat confirms them all
        frames += await _until(
            socket, lambda m: m["type"] == "heartbeat" and m["last_id"] >= seqs[-1]
        )
        # each came once, live: none was replayed from the log while on its way
        assert [m["id"] for m in frames if "id" in m] == seqs
        await socket.disconnect()

    async_to_sync(scenario)()
    assert LIVE_RECOVERED._value.get() == recovered_before


@override_settings(LIVE_HEARTBEAT_SECONDS=0.3)
def test_the_heartbeat_does_not_forward_what_the_user_may_not_see(
    operator, support_inbox, delivery_inbox
) -> None:
    elsewhere = factories.make_conversation(inbox=delivery_inbox)
    socket = operator_socket(operator)

    async def scenario() -> None:
        assert (await socket.connect())[0]
        seq = await _publish_lost(elsewhere.pk)
        frames = await _until(socket, lambda m: m["type"] == "heartbeat" and m["last_id"] >= seq)
        assert all("id" not in m for m in frames)
        await socket.disconnect()

    async_to_sync(scenario)()


def _layer(backend: str) -> dict[str, Any]:
    layers = copy.deepcopy(settings.CHANNEL_LAYERS)
    layers["default"]["BACKEND"] = backend
    return layers


@pytest.mark.parametrize(
    "backend", ["smartdesk.core.layers.PubSubChannelLayer", "channels_redis.core.RedisChannelLayer"]
)
def test_a_socket_whose_group_membership_redis_forgot_hears_live_again(
    operator, support_inbox, support, backend: str
) -> None:
    conversation = factories.make_conversation(inbox=support_inbox)
    socket = operator_socket(operator)

    async def scenario() -> None:
        assert (await socket.connect())[0]
        layer = get_channel_layer()
        group = team_group(support.pk)
        if backend.startswith("channels_redis.core"):
            # What a Redis restart does to every group of the list layer: the membership
            # (a sorted set in Redis) is gone.
            connection = layer.connection(layer.consistent_hash(group))
            assert await connection.delete(layer._group_key(group)) == 1
            await _until(socket, lambda m: m["type"] == "heartbeat")
            # the heartbeat joined again
            assert await connection.zcard(layer._group_key(group)) == 1
        else:
            # What a Redis restart does to the pub/sub layer: the process's subscriber
            # connection drops, and every subscription with it.
            process = layer._get_layer()
            shard = process._get_shard(process._get_group_channel_name(group))
            await shard._pubsub.connection.disconnect()
            await _until(socket, lambda m: m["type"] == "heartbeat")
            # subscribed again on Redis (redis-py re-subscribes as it reconnects)
            name = process._get_group_channel_name(group)
            assert dict(await shard._redis.pubsub_numsub(name))[name.encode()] >= 1
            # and it hears the group live: a note that is in no log can only come that way
            await layer.group_send(
                group, {"type": FORWARD_TYPE, "event": {"type": "note.test", "n": 1}}
            )
            await _until(socket, lambda m: m == {"type": "note.test", "n": 1})
        message = await receive(conversation, "after the restart")
        frames = await _until(
            socket, lambda m: m["type"] == "message.created" and m["message_id"] == message.pk
        )
        # it came live (before the next heartbeat could recover it) or recovered: once either way
        assert [m.get("message_id") for m in frames].count(message.pk) == 1
        await socket.disconnect()

    with override_settings(LIVE_HEARTBEAT_SECONDS=0.3, CHANNEL_LAYERS=_layer(backend)):
        channel_layers.backends.clear()
        try:
            async_to_sync(scenario)()
        finally:
            channel_layers.backends.clear()


def test_resume_replays_only_what_the_browser_lacks_and_names_the_new_watermark(
    operator, support_inbox
) -> None:
    conversation = factories.make_conversation(inbox=support_inbox)
    socket = operator_socket(operator)

    async def scenario() -> None:
        assert (await socket.connect())[0]
        watermark = socket.hello["last_id"]
        await socket.disconnect()
        first = await _publish_lost(conversation.pk)
        second = await _publish_lost(conversation.pk)
        third = await _publish_lost(conversation.pk)

        again = _socket_for_same_user()
        assert (await again.connect())[0]
        await again.send_json_to({"type": "resume", "last_id": watermark, "seen": [second]})
        frames = await _until(again, lambda m: m["type"] == "resumed")
        assert [m["id"] for m in frames[:-1]] == [first, third]
        assert frames[-1]["replayed"] == 2 and frames[-1]["last_id"] >= third
        await again.disconnect()

    second_socket = operator_socket(operator)

    def _socket_for_same_user() -> OperatorSocket:
        return second_socket

    async_to_sync(scenario)()


def test_a_resume_from_before_the_retention_window_asks_for_a_reload(
    operator, support_inbox
) -> None:
    conversation = factories.make_conversation(inbox=support_inbox)
    factories.receive(conversation, "one")
    factories.receive(conversation, "two")
    from smartdesk.core.models import LiveEvent

    kept = LiveEvent.objects.order_by("-seq").first()
    LiveEvent.objects.exclude(pk=kept.pk).delete()  # pruned by retention
    assert kept.seq > 2
    socket = operator_socket(operator)

    async def scenario() -> None:
        assert (await socket.connect())[0]
        # the browser's watermark is from before what the log still keeps
        await socket.send_json_to({"type": "resume", "last_id": 0, "seen": []})
        assert (await socket.receive_json_from(timeout=10))["type"] == "resync"
        await socket.disconnect()

    async_to_sync(scenario)()


@override_settings(PRESENCE_WRITE_SECONDS=3600)
def test_a_ping_does_not_write_presence_more_than_once_per_interval(operator) -> None:
    socket = operator_socket(operator)
    long_ago = timezone.now() - timedelta(seconds=50)

    async def scenario() -> None:
        assert (await socket.connect())[0]
        await database_sync_to_async(OperatorProfile.objects.filter(user=operator).update)(
            last_seen_at=long_ago
        )
        for _ in range(3):
            await socket.send_json_to({"type": "ping"})
            assert (await socket.receive_json_from(timeout=10))["type"] == "pong"
        await socket.disconnect()

    async_to_sync(scenario)()
    assert OperatorProfile.objects.get(user=operator).last_seen_at == long_ago


@override_settings(PRESENCE_WRITE_SECONDS=0)
def test_a_ping_writes_presence_when_the_interval_has_passed(operator) -> None:
    socket = operator_socket(operator)
    long_ago = timezone.now() - timedelta(seconds=50)

    async def scenario() -> None:
        assert (await socket.connect())[0]
        await database_sync_to_async(OperatorProfile.objects.filter(user=operator).update)(
            last_seen_at=long_ago
        )
        await socket.send_json_to({"type": "ping"})
        assert (await socket.receive_json_from(timeout=10))["type"] == "pong"
        await socket.disconnect()

    async_to_sync(scenario)()
    assert OperatorProfile.objects.get(user=operator).last_seen_at > long_ago


def test_a_group_send_dropped_at_capacity_is_counted_and_logged_as_a_warning() -> None:
    before = LIVE_DROPPED.labels("capacity")._value.get()
    record = logging.LogRecord(
        "channels_redis.core",
        logging.INFO,
        __file__,
        1,
        ChannelLayerCapacityFilter.MESSAGE,
        (3, 40, "team.1"),
        None,
    )
    assert ChannelLayerCapacityFilter().filter(record)
    assert record.levelno == logging.WARNING
    assert LIVE_DROPPED.labels("capacity")._value.get() == before + 3


def test_a_failed_live_send_is_counted_and_the_next_one_still_goes_out(operator) -> None:
    from unittest import mock

    from smartdesk.core.realtime import _publisher, send_now, user_group

    layer = get_channel_layer()
    socket = operator_socket(operator)
    before = LIVE_DROPPED.labels("publish")._value.get()

    async def scenario() -> None:
        assert (await socket.connect())[0]
        # Redis refuses one send: the boundary, not our code, fails.
        with mock.patch.object(layer, "group_send", side_effect=ConnectionError("redis gone")):
            await database_sync_to_async(send_now)(
                {"type": "lost", "id": 1}, [user_group(operator.pk)]
            )
            assert await database_sync_to_async(_publisher.flush)()
        await database_sync_to_async(send_now)({"type": "kept", "id": 2}, [user_group(operator.pk)])
        assert (await socket.receive_json_from(timeout=10))["type"] == "kept"
        await socket.disconnect()

    async_to_sync(scenario)()
    assert LIVE_DROPPED.labels("publish")._value.get() == before + 1


def test_a_socket_opened_while_redis_is_away_is_told_to_try_again_later(operator) -> None:
    from unittest import mock

    from smartdesk.core.consumers import CLOSE_TRY_AGAIN_LATER

    layer = get_channel_layer()
    socket = operator_socket(operator)

    async def scenario() -> None:
        with mock.patch.object(layer, "group_add", side_effect=ConnectionError("redis gone")):
            # the plain handshake: no hello is coming
            accepted, _ = await WebsocketCommunicator.connect(socket)
            assert accepted  # then closed at once, with the standard "try again later"
            closing = await socket.receive_output(timeout=10)
            assert closing == {"type": "websocket.close", "code": CLOSE_TRY_AGAIN_LATER}

    async_to_sync(scenario)()


@override_settings(LIVE_REPLAY_MAX=2)
def test_a_browser_missing_more_than_the_replay_bound_is_told_to_reload(
    operator, support_inbox
) -> None:
    conversation = factories.make_conversation(inbox=support_inbox)
    socket = operator_socket(operator)

    async def scenario() -> None:
        assert (await socket.connect())[0]
        watermark = socket.hello["last_id"]
        for _ in range(3):
            await _publish_lost(conversation.pk)
        await socket.send_json_to({"type": "resume", "last_id": watermark, "seen": []})
        assert (await socket.receive_json_from(timeout=10))["type"] == "resync"
        await socket.disconnect()

    async_to_sync(scenario)()


@override_settings(LIVE_HEARTBEAT_SECONDS=0.3)
def test_a_lost_access_change_recovered_by_the_heartbeat_takes_effect(
    operator, super_admin, support_inbox, support
) -> None:
    from accounts import services as account_services

    conversation = factories.make_conversation(inbox=support_inbox)
    socket = operator_socket(operator)

    @database_sync_to_async
    def remove_from_teams_losing_the_notice() -> int:
        layer = get_channel_layer()
        from unittest import mock

        # Redis drops the notice: the change is committed and logged, the doorbell lost.
        with mock.patch.object(layer, "group_send", side_effect=ConnectionError("dropped")):
            profile = OperatorProfile.objects.get(user=operator)
            account_services.operator_profile_save(profile=profile, teams=[], actor=super_admin)
            from smartdesk.core.realtime import _publisher

            assert _publisher.flush()
        from smartdesk.core.models import LiveEvent

        return (
            LiveEvent.objects.filter(type="access.changed", user_id=operator.pk).latest("seq").seq
        )

    async def scenario() -> None:
        assert (await socket.connect())[0]
        seq = await remove_from_teams_losing_the_notice()
        frames = await _until(socket, lambda m: m.get("id") == seq, timeout=15)
        assert frames[-1]["type"] == "access.changed"
        # the socket acted on it: the team's conversations are no longer heard
        await receive(conversation, "not yours any more")
        later = await _until(socket, lambda m: m["type"] == "heartbeat", timeout=10)
        later += await _until(socket, lambda m: m["type"] == "heartbeat", timeout=10)
        assert not any(m.get("conversation_id") == conversation.pk for m in later)
        await socket.disconnect()

    async_to_sync(scenario)()


@database_sync_to_async
def _changed(conversation_id: int, *, row_changed: bool) -> int:
    from chats.events import publish_conversation_changed
    from chats.models import Conversation
    from smartdesk.core.models import LiveEvent

    with transaction.atomic():
        conversation = Conversation.objects.get(pk=conversation_id)
        publish_conversation_changed(conversation, change="x", row_changed=row_changed)
    return LiveEvent.objects.order_by("-pk").values_list("seq", flat=True).first()


def _ids(frames: list[dict]) -> list[int]:
    return [m["id"] for m in frames if "id" in m]


def _not_heartbeats(frames: list[dict]) -> list[dict]:
    return [m for m in frames if m["type"] != "heartbeat"]


@override_settings(LIVE_HEARTBEAT_SECONDS=30)
def test_a_change_only_the_open_thread_shows_waits_for_the_page_to_open_it(
    operator, support_inbox
) -> None:
    """A panel-only change (`row_changed: false`) goes to a socket with that thread open; a
    socket without it gets no frame, unless the page opens that thread right after (its
    `subscribe` crossing the event): then it comes, once."""
    shown, other = (factories.make_conversation(inbox=support_inbox) for _ in range(2))
    socket = operator_socket(operator)

    async def scenario() -> None:
        assert (await socket.connect())[0]
        await socket.send_json_to({"type": "subscribe", "conversation_id": shown.pk})
        await _until(socket, lambda m: m["type"] == "subscribed")
        panel_shown = await _changed(shown.pk, row_changed=False)
        panel_other = await _changed(other.pk, row_changed=False)
        row_other = await _changed(other.pk, row_changed=True)
        frames = await _until(socket, lambda m: m.get("id") == row_other)
        assert panel_shown < panel_other < row_other
        assert _ids(frames) == [panel_shown, row_other]

        await socket.send_json_to({"type": "subscribe", "conversation_id": other.pk})
        opened = await _until(socket, lambda m: m.get("id") == panel_other, timeout=5)
        assert [m["type"] for m in _not_heartbeats(opened)] == [
            "subscribed",
            "conversation.changed",
        ]
        # a second subscribe sends nothing again
        await socket.send_json_to({"type": "subscribe", "conversation_id": other.pk})
        await socket.send_json_to({"type": "ping"})
        again = await _until(socket, lambda m: m["type"] == "pong", timeout=5)
        assert _ids(again) == []
        await socket.disconnect()

    async_to_sync(scenario)()


@override_settings(LIVE_HEARTBEAT_SECONDS=0.3)
def test_a_change_only_an_unopened_thread_shows_is_not_replayed_as_lost(
    operator, support_inbox
) -> None:
    """Once the page has had its time to open a thread, a panel-only change of another is
    neither sent nor held, and the heartbeat counts it as forwarded, not missed."""
    other = factories.make_conversation(inbox=support_inbox)
    socket = operator_socket(operator)
    recovered_before = LIVE_RECOVERED._value.get()

    async def scenario() -> None:
        assert (await socket.connect())[0]
        for _ in range(3):  # past the window a page's subscribe comes in
            await _until(socket, lambda m: m["type"] == "heartbeat")
        panel_other = await _changed(other.pk, row_changed=False)
        row_other = await _changed(other.pk, row_changed=True)
        frames = await _until(
            socket, lambda m: m["type"] == "heartbeat" and m["last_id"] >= row_other
        )
        frames += await _until(socket, lambda m: m["type"] == "heartbeat")
        assert panel_other < row_other and _ids(frames) == [row_other]
        await socket.send_json_to({"type": "subscribe", "conversation_id": other.pk})
        late = await _until(socket, lambda m: m["type"] == "subscribed")
        late += await _until(socket, lambda m: m["type"] == "heartbeat")
        assert _ids(late) == []
        await socket.disconnect()

    async_to_sync(scenario)()
    assert LIVE_RECOVERED._value.get() == recovered_before


@override_settings(LIVE_HEARTBEAT_SECONDS=30)
def test_a_resume_holds_a_change_only_an_unopened_thread_shows_for_the_subscribe(
    operator, support_inbox
) -> None:
    """The browser resumes, then subscribes: a replayed panel-only change of the thread it
    is about to open is not counted as replayed, and comes once the subscribe does."""
    other = factories.make_conversation(inbox=support_inbox)
    panel_other = async_to_sync(_changed)(other.pk, row_changed=False)
    row_other = async_to_sync(_changed)(other.pk, row_changed=True)
    socket = operator_socket(operator)

    async def scenario() -> None:
        assert (await socket.connect())[0]
        await socket.send_json_to({"type": "resume", "last_id": panel_other - 1, "seen": []})
        resumed = await _until(socket, lambda m: m["type"] == "resumed")
        assert _ids(resumed) == [row_other] and resumed[-1]["replayed"] == 1
        await socket.send_json_to({"type": "subscribe", "conversation_id": other.pk})
        opened = await _until(socket, lambda m: m.get("id") == panel_other, timeout=5)
        assert [m["type"] for m in _not_heartbeats(opened)] == [
            "subscribed",
            "conversation.changed",
        ]
        await socket.disconnect()

    async_to_sync(scenario)()
