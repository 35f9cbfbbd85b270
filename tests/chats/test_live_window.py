"""`chats.live_window`: the heartbeat's check of the live-event log, read once per process for
every socket, entitles each user to exactly what the gated query (`live_event_ids`) does."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.db import connection, transaction
from django.test import override_settings

from accounts.models import Role, Team, User
from chats import consumers, live_render, live_window
from chats.models import Conversation, Inbox
from chats.selectors import live_event_ids, live_event_latest
from chats.services import conversations as conversation_services
from smartdesk.core.models import LiveEvent
from smartdesk.core.realtime import publish
from tests import factories
from tests.chats.test_live_render import committed, decorate_all, queries_in_every_thread
from tests.live import operator_socket

# The window reads in the consumers' database threads: committed data.
pytestmark = pytest.mark.django_db(transaction=True)


def _lost(**who: Any) -> int:
    """An event logged for a conversation or a user and sent to nobody."""
    with transaction.atomic():
        row = publish({"type": who.pop("type", "conversation.changed")}, groups=[], **who)
    row.refresh_from_db()
    return row.seq


def _socket_user(user: User) -> User:
    """The user as a socket holds them (read afresh and primed at its connect and reconcile);
    a deactivated one as it was read."""
    fresh, _groups = async_to_sync(consumers._access)(user.pk, set())
    return fresh or user


def _entitled(window: live_window.Window, user: User, after: int, until: int, limit: int = 100):
    async def ask() -> list[int] | None:
        return await window.entitled(user, after=after, until=until, limit=limit)

    return async_to_sync(ask)()


@pytest.fixture
def floor(
    roles: dict[str, Role],
    support: Team,
    delivery: Team,
    support_inbox: Inbox,
    delivery_inbox: Inbox,
    operator: User,
    teammate: User,
    outsider: User,
    admin_user: User,
    reporter: User,
) -> dict[str, Any]:
    """Users of every scope (and of none), and events of every kind the gate tells apart."""
    assigned_only = factories.make_user(
        username="gleb", role=factories.make_role(scope=Role.Scope.ASSIGNED), teams=[support]
    )
    gone = factories.make_user(username="olga", role=Role.OPERATOR, teams=[support])
    User.objects.filter(pk=gone.pk).update(is_active=False)
    no_profile = User.objects.create(username="noprofile")
    root = User.objects.create(username="root", is_superuser=True)
    start = live_event_latest()
    ours = factories.make_conversation(inbox=support_inbox)
    theirs = factories.make_conversation(inbox=delivery_inbox)
    lent = factories.make_conversation(inbox=delivery_inbox, assignee=operator)
    gleb_s = factories.make_conversation(inbox=support_inbox, assignee=assigned_only)
    deleted = factories.make_conversation(inbox=support_inbox)
    conversation_services.conversation_delete(conversation=deleted, actor=admin_user)
    for conversation in (ours, theirs, lent, gleb_s, deleted):
        _lost(conversation_id=conversation.pk)
    _lost(user_id=operator.pk, type="access.changed")
    _lost(user_id=outsider.pk, type="access.changed")
    _lost(type="presence.changed")
    _lost(type="anomaly.alert")
    _lost(conversation_id=10**9)  # a conversation since erased
    people = [operator, teammate, outsider, admin_user, reporter, assigned_only]
    users = [_socket_user(user) for user in [*people, gone, no_profile, root]]
    return {"start": start, "users": users, "until": live_event_latest(), "ours": ours}


def test_the_window_entitles_each_user_to_what_the_gated_query_does(floor) -> None:
    window = live_window.Window()
    start, until = floor["start"], floor["until"]
    for user in floor["users"]:
        expected = live_event_ids(user, after=start, until=until)
        assert _entitled(window, user, start, until) == expected, user.username
        # and within a part of the window, with a limit
        middle = expected[len(expected) // 2] if expected else start
        assert _entitled(window, user, middle, until, limit=2) == live_event_ids(
            user, after=middle, until=until, limit=2
        ), user.username
    # the rule is not vacuous: the scopes see different things, and some see nothing
    seen = [tuple(live_event_ids(user, after=start, until=until)) for user in floor["users"]]
    assert len(set(seen)) >= 6 and () in seen, seen


def test_every_socket_of_a_process_asks_at_once_and_gets_its_own_answer(floor) -> None:
    window = live_window.Window()
    start, until = floor["start"], floor["until"]

    async def together() -> list[list[int] | None]:
        return list(
            await asyncio.gather(
                *(
                    window.entitled(user, after=start, until=until, limit=100)
                    for user in floor["users"]
                )
            )
        )

    answers = async_to_sync(together)()
    assert answers == [live_event_ids(user, after=start, until=until) for user in floor["users"]]


def test_every_socket_of_a_process_checks_the_log_with_two_queries_in_all(
    floor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live_window, "FACTS_TTL", 3600.0)
    window = live_window.Window()
    start, until = floor["start"], floor["until"]

    async def heartbeats() -> list[list[int] | None]:
        return [
            await window.entitled(user, after=start, until=until, limit=100)
            for user in floor["users"]
        ]

    with queries_in_every_thread() as queries:
        answers = async_to_sync(heartbeats)()
    assert all(answer is not None for answer in answers)
    assert len(queries) == 2, queries  # the events' heads, then their conversations' facts
    with queries_in_every_thread() as queries:
        async_to_sync(heartbeats)()
    assert queries == []  # nothing new in the log: nothing read again


def test_a_conversation_moved_out_of_sight_is_followed_at_once(
    floor, operator: User, admin_user: User, delivery: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live_window, "FACTS_TTL", 3600.0)  # no second passes
    window = live_window.Window()
    anna = _socket_user(operator)
    start, until = floor["start"], floor["until"]
    seq = committed("conversation.changed", floor["ours"])[-1]["id"]
    assert seq in _entitled(window, anna, start, until)

    # when: it is transferred to a team Anna is not in (which logs an event)
    conversation_services.conversation_transfer(
        conversation=Conversation.objects.get(pk=floor["ours"].pk),
        team=delivery,
        operator=None,
        reason="courier",
        actor=admin_user,
    )
    later = live_event_latest()

    # then: asked about the ids up to the transfer, the window reads its facts anew
    now = _entitled(window, anna, start, later)
    assert seq not in now
    assert now == live_event_ids(anna, after=start, until=later)


def test_a_change_that_logged_no_event_is_followed_within_the_facts_lifetime(
    floor, operator: User, delivery: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = live_window.Window()
    anna = _socket_user(operator)
    start, until = floor["start"], floor["until"]
    seq = committed("conversation.changed", floor["ours"])[-1]["id"]
    monkeypatch.setattr(live_window, "FACTS_TTL", 3600.0)
    assert seq in _entitled(window, anna, start, until)
    Conversation.objects.filter(pk=floor["ours"].pk).update(team=delivery)  # no event
    assert seq in _entitled(window, anna, start, until)  # within the lifetime: as read

    monkeypatch.setattr(live_window, "FACTS_TTL", 0.0)  # the lifetime has passed
    assert seq not in _entitled(window, anna, start, until)


def test_ranges_the_window_cannot_serve_go_to_the_database(
    floor, operator: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live_window, "READ_PAGE", 2)
    monkeypatch.setattr(live_window, "MAX_ROWS", 8)
    window = live_window.Window()
    anna = _socket_user(operator)
    start, until = floor["start"], floor["until"]
    # wider than the window may hold (ids are unique, so that many may be that many events)
    assert until - start > 8
    assert _entitled(window, anna, start, until) is None

    # six events read in pages of two: the same answer as the gated query
    before = live_event_latest()
    seqs = [_lost(conversation_id=floor["ours"].pk) for _ in range(6)]
    assert _entitled(window, anna, before, seqs[-1]) == seqs

    # three more: nine is more than it keeps, so the oldest five go
    seqs += [_lost(conversation_id=floor["ours"].pk) for _ in range(3)]
    assert _entitled(window, anna, seqs[5], seqs[-1]) == seqs[6:]
    assert window.low == seqs[4]
    # and a watermark among them asks the database
    assert _entitled(window, anna, seqs[3], seqs[-1]) is None


def test_a_user_object_not_primed_is_served_too(floor, operator: User) -> None:
    window = live_window.Window()
    start, until = floor["start"], floor["until"]
    anna = User.objects.get(pk=operator.pk)  # its teams not read yet: that needs a query
    assert _entitled(window, anna, start, until) == live_event_ids(
        operator, after=start, until=until
    )


def test_a_read_that_fails_sends_every_socket_to_the_database_for_a_moment(
    floor, operator: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = live_window.Window()
    anna = _socket_user(operator)
    start, until = floor["start"], floor["until"]
    table = LiveEvent._meta.db_table

    def log_reads(queries: list[str]) -> int:
        return sum(1 for sql in queries if f'"{table}"' in sql)

    # given: the log cannot be read (a real database error, in the sockets' threads)
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER TABLE "{table}" RENAME TO "{table}_away"')
    try:
        monkeypatch.setattr(live_window, "FAILED_FOR", 3600.0)
        with queries_in_every_thread() as queries:
            # when: two sockets ask, one after the other
            assert _entitled(window, anna, start, until) is None
            assert _entitled(window, anna, start, until) is None
        # then: both were sent to the database path, and the second did not wait on a
        # second failing read of the window's
        assert log_reads(queries) == 1, queries
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'ALTER TABLE "{table}_away" RENAME TO "{table}"')
    # the database is back, and the moment has passed
    monkeypatch.setattr(live_window, "FAILED_FOR", 0.0)
    assert _entitled(window, anna, start, until) == live_event_ids(anna, after=start, until=until)


@override_settings(LIVE_HEARTBEAT_SECONDS=0.3)
def test_the_heartbeat_recovers_a_lost_event_through_the_window(
    operator: User, support_inbox: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversation = factories.make_conversation(inbox=support_inbox)
    socket = operator_socket(operator)

    asked: list[Any] = []

    async def per_socket(*args: Any) -> list[int]:
        asked.append(args)
        return []

    monkeypatch.setattr(consumers, "_entitled", per_socket)

    async def scenario() -> tuple[int, list[dict]]:
        assert (await socket.connect())[0]
        seq = await asyncio.to_thread(_lost, conversation_id=conversation.pk)
        frames = []
        while not any(m.get("type") == "heartbeat" and m["last_id"] >= seq for m in frames):
            frames.append(await socket.receive_json_from(timeout=10))
        await socket.disconnect(timeout=10)
        return seq, frames

    seq, frames = async_to_sync(scenario)()
    assert [m["type"] for m in frames if m.get("id") == seq] == ["conversation.changed"]
    assert asked == []  # the window served it: no socket asked the database on its own


@override_settings(LIVE_HEARTBEAT_SECONDS=0.3)
def test_what_follows_a_lost_access_change_is_chosen_with_the_new_access(
    operator: User, delivery: Team, delivery_inbox: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = factories.make_conversation(inbox=delivery_inbox)
    socket = operator_socket(operator)
    monkeypatch.setattr(consumers, "RECONCILE_EVERY", 10**6)  # only the notice says it

    def joined_delivery_and_both_lost() -> tuple[int, int]:
        # Anna joins Delivery; the notice and the next event of a Delivery conversation
        # commit together and reach nobody live (Redis lost them).
        with transaction.atomic():
            operator.profile.teams.add(delivery)
            notice = publish({"type": "access.changed"}, groups=[], user_id=operator.pk)
            event = publish(
                {"type": "conversation.changed", "conversation_id": elsewhere.pk},
                groups=[],
                conversation_id=elsewhere.pk,
            )
        notice.refresh_from_db()
        event.refresh_from_db()
        return notice.seq, event.seq

    async def scenario() -> tuple[int, int, list[dict]]:
        assert (await socket.connect())[0]
        notice, seq = await asyncio.to_thread(joined_delivery_and_both_lost)
        frames = []
        while not any(m.get("type") == "heartbeat" and m["last_id"] >= seq for m in frames):
            frames.append(await socket.receive_json_from(timeout=10))
        await socket.disconnect(timeout=10)
        return notice, seq, frames

    notice, seq, frames = async_to_sync(scenario)()
    # the event Anna may now see came after the notice, once, before the heartbeat said so
    assert [m.get("id") for m in frames if m.get("id") in (notice, seq)] == [notice, seq]


def test_a_user_deactivated_as_their_socket_opens_is_told_so(
    operator: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    socket = operator_socket(operator)
    read = consumers._access

    async def deactivated_meanwhile(pk: int, subscriptions: set[int]) -> Any:
        await asyncio.to_thread(User.objects.filter(pk=pk).update, is_active=False)
        return await read(pk, subscriptions)

    monkeypatch.setattr(consumers, "_access", deactivated_meanwhile)

    async def scenario() -> dict:
        accepted, _ = await WebsocketCommunicator.connect(socket)
        assert accepted
        closing = await socket.receive_output(timeout=10)
        await socket.wait(timeout=10)  # the consumer ended
        return closing

    assert async_to_sync(scenario)() == {
        "type": "websocket.close",
        "code": consumers.CLOSE_DEACTIVATED,
    }


def test_a_user_read_for_a_socket_hears_an_event_already_rendered_with_no_query(
    floor, operator: User, teammate: User
) -> None:
    # given: an event of Anna's team, rendered for her view
    factories.receive(floor["ours"], "Ещё вопрос")
    event = committed("conversation.changed", floor["ours"])[-1]
    decorate_all(event, [operator])

    # when: Boris's socket reads him afresh (its connect, a reconcile) and hears the event
    fresh, groups = async_to_sync(consumers._access)(teammate.pk, set())
    assert groups
    with queries_in_every_thread() as queries:
        (sent,) = decorate_all(event, [fresh])

    # then: his view and teams came with him: the cached row is his with no query
    assert queries == []
    assert sent["html"]["row"]
    assert live_render.view_key(fresh) == live_render.view_key(operator)


def test_two_access_refreshes_at_once_end_with_the_newer_read(
    operator: User, delivery: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a socket's consumer whose reconcile read Anna before she joined Delivery and is
    # slow to finish, and the notice of her joining starting a second refresh meanwhile
    from channels.layers import get_channel_layer

    consumer = consumers.OperatorConsumer()
    consumer.user, consumer.subscriptions, consumer.joined = operator, set(), set()
    consumer.channel_layer = get_channel_layer()
    read = consumers._access
    state: dict[str, Any] = {"reads": 0}

    async def access(pk: int, subscriptions: set[int]) -> Any:
        state["reads"] += 1
        if state["reads"] == 1:
            found = await read(pk, subscriptions)
            await asyncio.to_thread(lambda: operator.profile.teams.add(delivery))
            state["joined"].set()
            # time for a second read to overtake this one, if nothing stops it
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(state["second"].wait(), 0.5)
            return found
        found = await read(pk, subscriptions)
        state["second"].set()
        return found

    monkeypatch.setattr(consumers, "_access", access)

    async def scenario() -> None:
        # a channel of this process's (the pub/sub layer adds only those to groups)
        consumer.channel_name = await consumer.channel_layer.new_channel()
        state["joined"], state["second"] = asyncio.Event(), asyncio.Event()
        reconcile = asyncio.ensure_future(consumer._refresh_access())
        await state["joined"].wait()
        notice = asyncio.ensure_future(consumer._refresh_access())
        await asyncio.wait_for(asyncio.gather(reconcile, notice), 10)
        for group in list(consumer.joined):
            await consumer.leave(group)

    async_to_sync(scenario)()

    # then: the socket holds the newer read (Delivery included), not the one that began first
    assert state["reads"] == 2
    assert delivery.pk in live_render.team_ids_of(consumer.user)
