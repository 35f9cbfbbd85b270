"""`chats.live_window`: the heartbeat's check of the live-event log, read once per process for
every socket, entitles each user to exactly what the gated query (`live_event_ids`) does."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.db import transaction

from accounts.models import Role, Team, User
from chats import live_render, live_window
from chats.consumers import _access
from chats.models import Conversation, Inbox
from chats.selectors import live_event_ids, live_event_latest
from chats.services import conversations as conversation_services
from smartdesk.core.realtime import publish
from tests import factories
from tests.chats.test_live_render import committed, decorate_all, queries_in_every_thread

# The window reads in the consumers' database threads: committed data.
pytestmark = pytest.mark.django_db(transaction=True)


def _lost(**who: Any) -> int:
    """An event logged for a conversation or a user and sent to nobody."""
    with transaction.atomic():
        row = publish({"type": who.pop("type", "conversation.changed")}, groups=[], **who)
    row.refresh_from_db()
    return row.seq


def _entitled(window: live_window.Window, user: User, after: int, until: int, limit: int = 100):
    # A socket's user, as the consumer holds it (primed at its connect and each reconcile).
    socket_user, _groups = async_to_sync(_access)(user.pk, set())

    async def ask() -> list[int] | None:
        return await window.entitled(socket_user, after=after, until=until, limit=limit)

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
    """Users of every scope, and events of every kind the gate tells apart."""
    assigned_only = factories.make_user(
        username="gleb", role=factories.make_role(scope=Role.Scope.ASSIGNED), teams=[support]
    )
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
    users = [operator, teammate, outsider, admin_user, reporter, assigned_only]
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
    # the rule is not vacuous: the scopes see different things
    seen = {tuple(live_event_ids(user, after=start, until=until)) for user in floor["users"]}
    assert len(seen) >= 5, seen


def test_the_window_follows_a_conversation_that_moves_out_of_sight(
    floor, operator: User, admin_user: User, delivery: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = live_window.Window()
    start, until = floor["start"], floor["until"]
    seq = committed("conversation.changed", floor["ours"])[-1]["id"]
    assert seq in _entitled(window, operator, start, until)
    conversation_services.conversation_transfer(
        conversation=Conversation.objects.get(pk=floor["ours"].pk),
        team=delivery,
        operator=None,
        reason="courier",
        actor=admin_user,
    )
    later = live_event_latest()

    monkeypatch.setattr(live_window, "FACTS_TTL", 0.0)  # a second later
    now = _entitled(window, operator, start, later)
    assert seq not in now
    assert now == live_event_ids(operator, after=start, until=later)


def test_every_socket_of_a_process_checks_the_log_with_two_queries_in_all(floor) -> None:
    window = live_window.Window()
    start, until = floor["start"], floor["until"]
    users = [async_to_sync(_access)(user.pk, set())[0] for user in floor["users"]]

    async def heartbeats() -> list[list[int] | None]:
        return [await window.entitled(user, after=start, until=until, limit=100) for user in users]

    with queries_in_every_thread() as queries:
        answers = async_to_sync(heartbeats)()
    assert all(answer is not None for answer in answers)
    assert len(queries) == 2, queries  # the events' heads, then their conversations' facts
    with queries_in_every_thread() as queries:
        async_to_sync(heartbeats)()
    assert queries == []  # within the second: nothing read again


def test_a_watermark_older_than_the_window_asks_the_database(floor, operator: User) -> None:
    window = live_window.Window()
    start, until = floor["start"], floor["until"]
    assert _entitled(window, operator, start + 3, until) is not None  # the window starts here
    assert _entitled(window, operator, start, until) is None


def test_a_user_read_for_a_socket_hears_an_event_already_rendered_with_no_query(
    floor, operator: User, teammate: User
) -> None:
    # given: an event of Anna's team, rendered for her view
    factories.receive(floor["ours"], "Ещё вопрос")
    event = committed("conversation.changed", floor["ours"])[-1]
    decorate_all(event, [operator])

    # when: Boris's socket reads him afresh (its connect, a reconcile) and hears the event
    fresh, groups = async_to_sync(_access)(teammate.pk, set())
    assert groups
    with queries_in_every_thread() as queries:
        (sent,) = decorate_all(event, [fresh])

    # then: his view and teams came with him: the cached row is his with no query
    assert queries == []
    assert sent["html"]["row"]
    assert live_render.view_key(fresh) == live_render.view_key(operator)
