"""The operator WebSocket over the real Redis channel layer: gate, replay, revocation."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from accounts import services as account_services
from accounts.models import OperatorProfile
from chats.services import conversations as conv_svc
from tests import factories
from tests.live import operator_socket

pytestmark = pytest.mark.django_db(transaction=True)


async def _events(socket: WebsocketCommunicator, until: str, timeout: float = 10) -> list[dict]:
    """Everything the socket receives up to and including a message of type `until`."""
    received = []
    while True:
        message = await socket.receive_json_from(timeout=timeout)
        received.append(message)
        if message["type"] == until:
            return received


receive = database_sync_to_async(factories.receive)


def test_events_missed_while_disconnected_arrive_after_reconnect_none_twice(
    operator, support_inbox, delivery_inbox
) -> None:
    mine = factories.make_conversation(inbox=support_inbox)
    elsewhere = factories.make_conversation(inbox=delivery_inbox)

    first_socket, second_socket = operator_socket(operator), operator_socket(operator)

    async def scenario() -> None:
        socket = first_socket
        assert (await socket.connect())[0]
        await receive(mine, "first")
        live = [await socket.receive_json_from(timeout=10) for _ in range(2)]
        assert [e["type"] for e in live] == ["message.created", "conversation.changed"]
        last_id = max(e["id"] for e in live)
        await socket.disconnect()

        # while the browser is away: two visible changes, one it may not see
        await receive(mine, "second")
        await receive(elsewhere, "not for this team")
        await database_sync_to_async(conv_svc.conversation_take)(conversation=mine, actor=operator)

        socket = second_socket
        assert (await socket.connect())[0]
        await socket.send_json_to({"type": "resume", "last_id": last_id, "seen": []})
        replayed = await _events(socket, until="resumed")
        # the live copy of nothing: everything came from the log, in commit order
        body = replayed[:-1]
        assert [(e["type"], e.get("change")) for e in body] == [
            ("message.created", None),
            ("conversation.changed", "message"),
            ("conversation.changed", "assigned"),
        ]
        assert {e["conversation_id"] for e in body} == {mine.pk}
        ids = [e["id"] for e in body]
        assert ids == sorted(ids) and min(ids) > last_id
        assert replayed[-1] == {"type": "resumed", "replayed": 3, "last_id": max(ids)}

        # live again; a replayed event never comes twice
        await receive(mine, "third")
        after = [await socket.receive_json_from(timeout=10) for _ in range(2)]
        assert all(e["id"] not in ids for e in after)
        assert await socket.receive_nothing(timeout=0.3)
        await socket.disconnect()

    async_to_sync(scenario)()


def test_resume_fills_a_gap_below_the_last_id_without_repeating_what_was_seen(
    operator, support_inbox
) -> None:
    conversation = factories.make_conversation(inbox=support_inbox)
    factories.receive(conversation, "a")
    factories.receive(conversation, "b")
    from smartdesk.core.models import LiveEvent

    seqs = list(
        LiveEvent.objects.filter(conversation_id=conversation.pk)
        .order_by("seq")
        .values_list("seq", flat=True)
    )
    # The browser's confirmed watermark is from before these events; it got the last one
    # live, but one before it never arrived.
    watermark = seqs[0] - 1
    seen = [seqs[-1], *seqs[:-2]]

    socket = operator_socket(operator)

    async def scenario() -> None:
        assert (await socket.connect())[0]
        await socket.send_json_to({"type": "resume", "last_id": watermark, "seen": seen})
        replayed = await _events(socket, until="resumed")
        # exactly the one it lacks: nothing it holds is sent again
        assert [e["id"] for e in replayed[:-1]] == [seqs[-2]]
        assert replayed[-1]["last_id"] >= seqs[-1]
        await socket.disconnect()

    async_to_sync(scenario)()


def test_subscribing_to_a_conversation_goes_through_the_gate(
    operator, outsider, support_inbox
) -> None:
    conversation = factories.make_conversation(inbox=support_inbox)

    theirs, mine = operator_socket(outsider), operator_socket(operator)

    async def scenario() -> None:
        assert (await theirs.connect())[0]
        await theirs.send_json_to({"type": "subscribe", "conversation_id": conversation.pk})
        assert await theirs.receive_json_from() == {
            "type": "error",
            "code": 404,
            "conversation_id": conversation.pk,
        }
        await theirs.send_json_to({"type": "subscribe", "conversation_id": 10**9})
        assert (await theirs.receive_json_from())["code"] == 404  # missing looks the same

        assert (await mine.connect())[0]
        await mine.send_json_to({"type": "subscribe", "conversation_id": conversation.pk})
        assert await mine.receive_json_from() == {
            "type": "subscribed",
            "conversation_id": conversation.pk,
        }
        # the event reaches the subscriber once (team + conversation groups) and not the outsider
        await receive(conversation, "hello")
        got = [await mine.receive_json_from(timeout=10) for _ in range(2)]
        assert len({e["id"] for e in got}) == 2
        assert await mine.receive_nothing(timeout=0.3)
        assert await theirs.receive_nothing(timeout=0.3)
        await mine.disconnect()
        await theirs.disconnect()

    async_to_sync(scenario)()


def test_an_operator_removed_from_a_team_stops_hearing_it_within_two_seconds(
    operator, super_admin, support_inbox
) -> None:
    conversation = factories.make_conversation(inbox=support_inbox)

    socket = operator_socket(operator)

    async def scenario() -> None:
        assert (await socket.connect())[0]
        await receive(conversation, "still mine")
        assert (await socket.receive_json_from(timeout=10))["type"] == "message.created"
        await socket.receive_json_from(timeout=10)

        @database_sync_to_async
        def remove_from_all_teams() -> None:
            profile = OperatorProfile.objects.get(user=operator)
            account_services.operator_profile_save(profile=profile, teams=[], actor=super_admin)

        await remove_from_all_teams()
        notice = await socket.receive_json_from(timeout=2)  # within two seconds, or it fails
        assert notice["type"] == "access.changed"

        await receive(conversation, "no longer yours")
        assert await socket.receive_nothing(timeout=0.5)
        # and a reconnecting browser is not replayed what it may no longer see
        await socket.send_json_to({"type": "resume", "last_id": notice["id"], "seen": []})
        resumed = await socket.receive_json_from(timeout=10)
        assert resumed["type"] == "resumed" and resumed["replayed"] == 0
        await socket.disconnect()

    async_to_sync(scenario)()


def test_a_deactivated_user_is_disconnected(operator, super_admin) -> None:
    socket = operator_socket(operator)

    async def scenario() -> None:
        assert (await socket.connect())[0]

        @database_sync_to_async
        def deactivate() -> None:
            operator.is_active = False
            account_services.user_save(user=operator, actor=super_admin)

        await deactivate()
        closed = await socket.receive_output(timeout=10)
        assert closed == {"type": "websocket.close", "code": 4403}
        # The client's side of the close, as the server delivers it: the consumer ends here,
        # while the loop runs, not cancelled as the loop closes (where a blocking Redis read
        # can swallow the cancellation and the loop never finishes closing).
        await socket.disconnect(timeout=10)

    async_to_sync(scenario)()


def test_a_scope_change_on_the_role_moves_open_sockets(operator, roles, delivery_inbox) -> None:
    from accounts.models import Role

    elsewhere = factories.make_conversation(inbox=delivery_inbox)

    socket = operator_socket(operator)

    async def scenario() -> None:
        assert (await socket.connect())[0]

        @database_sync_to_async
        def widen() -> None:
            role = Role.objects.get(slug=Role.OPERATOR)
            role.scope = Role.Scope.ALL
            account_services.role_save(role=role, actor=None)

        await widen()
        assert (await socket.receive_json_from(timeout=10))["type"] == "access.changed"
        await receive(elsewhere, "now visible")
        assert (await socket.receive_json_from(timeout=10))["conversation_id"] == elsewhere.pk
        await socket.disconnect()

    async_to_sync(scenario)()


def test_a_malformed_resume_gets_an_error_and_the_socket_stays(operator) -> None:
    socket = operator_socket(operator)

    async def scenario() -> None:
        assert (await socket.connect())[0]
        await socket.send_json_to({"type": "resume", "last_id": 5, "seen": {"a": 1}})
        assert (await socket.receive_json_from(timeout=10))["type"] == "error"
        await socket.send_json_to({"type": "ping"})
        assert await socket.receive_json_from(timeout=10) == {"type": "pong"}
        await socket.disconnect()

    async_to_sync(scenario)()


def test_a_subscription_ends_when_the_conversation_is_transferred_out_of_sight(
    operator, support_inbox, delivery
) -> None:
    conversation = factories.make_conversation(inbox=support_inbox)
    socket = operator_socket(operator)

    async def scenario() -> None:
        assert (await socket.connect())[0]
        await socket.send_json_to({"type": "subscribe", "conversation_id": conversation.pk})
        assert (await socket.receive_json_from(timeout=10))["type"] == "subscribed"

        await database_sync_to_async(conv_svc.conversation_transfer)(
            conversation=conversation, actor=operator, team=delivery, reason="courier question"
        )
        moved = await socket.receive_json_from(timeout=10)
        assert (moved["change"], moved["team_id"]) == ("transferred", delivery.pk)

        await receive(conversation, "a message the operator may no longer see")
        assert await socket.receive_nothing(timeout=0.5)
        await socket.disconnect()

    async_to_sync(scenario)()


def test_forwarding_events_costs_the_socket_no_hop_to_a_sync_thread(
    operator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An event that carries no HTML (here a batch of them to Anna's own group) is forwarded
    on the event loop alone: at a floor's fan-out, a hop per event per socket to a sync thread
    (Channels' own dispatch makes one to close stale database connections, ~0.15 ms of CPU)
    is a large share of the whole process."""
    from asgiref.sync import SyncToAsync
    from channels.layers import get_channel_layer

    from smartdesk.core.realtime import BATCH_TYPE, FORWARD_TYPE, user_group

    socket = operator_socket(operator)
    hops: list[str] = []
    call = SyncToAsync.__call__

    def counted(self, *args, **kwargs):
        hops.append(getattr(self.func, "__name__", repr(self.func)))
        return call(self, *args, **kwargs)

    async def scenario() -> None:
        assert (await socket.connect())[0]
        base = socket.hello["last_id"] + 1000
        layer = get_channel_layer()
        monkeypatch.setattr(SyncToAsync, "__call__", counted)
        try:
            # when: ten events come one by one, and ten more as one batch
            for n in range(10):
                event = {"type": "note.test", "id": base + n}
                await layer.group_send(
                    user_group(operator.pk), {"type": FORWARD_TYPE, "event": event}
                )
            batch = [{"type": "note.test", "id": base + 10 + n} for n in range(10)]
            await layer.group_send(user_group(operator.pk), {"type": BATCH_TYPE, "events": batch})
            received = [await socket.receive_json_from(timeout=10) for _ in range(20)]
        finally:
            monkeypatch.setattr(SyncToAsync, "__call__", call)
        # then: every one arrived, and not one made a thread hop
        assert [e["id"] for e in received] == [base + n for n in range(20)]
        assert hops == []
        await socket.disconnect()

    async_to_sync(scenario)()
