"""`chats.live_render.decorate`: an event's fragments rendered once per distinct view of the
data, never once per subscriber, and never shown to someone the gate refuses."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.db.backends.signals import connection_created
from django.test.signals import template_rendered
from django.urls import reverse

from accounts.models import Role, Team, User
from chats import live_render
from chats.models import Conversation, Inbox, Message
from chats.selectors import visible_conversations
from chats.services import conversations as conversation_services
from chats.services import messages as message_services
from smartdesk.core.models import LiveEvent
from tests import factories

# Channels' `database_sync_to_async` closes the connection around each call: committed data.
pytestmark = pytest.mark.django_db(transaction=True)

PHONE = "+79161234567"
# Each decorated event gets an id of its own: the per-process cache outlives a test.
_ids = itertools.count(10**12)


@pytest.fixture
def renders() -> Iterator[Counter[str]]:
    """How many times each template was rendered (Django's test instrumentation)."""
    counted: Counter[str] = Counter()

    def count(sender: Any, template: Any, **kwargs: Any) -> None:
        counted[template.name] += 1

    template_rendered.connect(count)
    try:
        yield counted
    finally:
        template_rendered.disconnect(count)


@pytest.fixture
def conversation(support_inbox: Inbox, operator: User) -> Conversation:
    customer = factories.make_customer("Svetlana", "Morozova", phone=PHONE)
    return factories.make_conversation(
        inbox=support_inbox, customer=customer, text="Можно без кунжута?", assignee=operator
    )


def last_event(type: str, conversation: Conversation) -> dict[str, Any]:
    """The newest event of `type` the services logged for `conversation`, as the consumer
    would receive it."""
    row = (
        LiveEvent.objects.filter(type=type, conversation_id=conversation.pk)
        .order_by("-pk")
        .values_list("payload", flat=True)
        .first()
    )
    assert row is not None, f"no {type} event"
    return {**row, "id": next(_ids)}


def decorate_all(event: dict[str, Any], users: list[User], **kwargs: Any) -> list[dict[str, Any]]:
    """`decorate` for every user at once, as the sockets of one process would."""

    async def run() -> list[dict[str, Any]]:
        return list(
            await asyncio.gather(
                *(live_render.decorate(event, user=user, **kwargs) for user in users)
            )
        )

    return async_to_sync(run)()


def operators(support: Team, n: int) -> list[User]:
    return [factories.make_user(role=Role.OPERATOR, teams=[support]) for _ in range(n)]


def test_many_users_of_one_view_cost_one_render(
    conversation: Conversation, operator: User, support: Team, admin_user: User, renders
) -> None:
    # given: twelve operators of the support team (one view) and an admin (another view)
    users = [operator, *operators(support, 11)]
    factories.receive(conversation, "Курьер опаздывает")
    event = last_event("conversation.changed", conversation)

    # when
    sent = decorate_all(event, [*users, admin_user])

    # then: one row for the operators' view, one for the admin's
    assert renders["chats/_row.html"] == 2
    rows = {message["html"]["row"] for message in sent[:-1]}
    assert len(rows) == 1
    assert "Курьер опаздывает" in rows.pop()
    assert sent[-1]["html"]["row"] != sent[0]["html"]["row"]
    assert event.get("html") is None  # the caller's dict is left alone

    # and the same event again (another process would render its own): nothing to render
    decorate_all(event, users)
    assert renders["chats/_row.html"] == 2


@contextmanager
def queries_in_every_thread() -> Iterator[list[str]]:
    """The SQL run on connections opened meanwhile, in any thread (a consumer's database calls
    run in a pool; the suite opens a connection per call)."""
    queries: list[str] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        queries.append(sql)
        return execute(sql, params, many, context)

    wrapped: list[Any] = []

    def install(sender: Any, connection: Any, **kwargs: Any) -> None:
        # A thread's connection object reconnects for each call: wrap it once.
        if record not in connection.execute_wrappers:
            connection.execute_wrappers.append(record)
            wrapped.append(connection)

    connection_created.connect(install)
    try:
        yield queries
    finally:
        connection_created.disconnect(install)
        for connection in wrapped:
            connection.execute_wrappers.remove(record)


def test_the_number_of_queries_does_not_grow_with_the_users(
    conversation: Conversation, operator: User, support: Team
) -> None:
    users = [operator, *operators(support, 19)]
    for user in users:  # as on a consumer's user after its first event
        live_render.view_key(user)
        live_render.may_see(user, live_render.Facts(team_id=None, assignee_id=None, deleted=False))
    factories.receive(conversation, "Где заказ?")
    event = last_event("message.created", conversation)

    # the conversation row through the gate, then the message (in the consumers' thread pool)
    with queries_in_every_thread() as queries:
        sent = decorate_all(event, users)
    assert len(queries) == 2, queries

    assert all("Где заказ?" in message["html"]["message"] for message in sent)


def test_personal_data_is_shown_only_to_the_view_that_may_see_it(
    conversation: Conversation, operator: User, admin_user: User
) -> None:
    conversation_services.conversation_set_priority(
        conversation=conversation, priority=Conversation.Priority.HIGH, actor=admin_user
    )
    event = last_event("conversation.changed", conversation)

    masked, full = decorate_all(event, [operator, admin_user])

    assert PHONE not in masked["html"]["row"]
    assert "+7•••67" in masked["html"]["row"]
    assert PHONE in full["html"]["row"]


def test_a_user_the_gate_refuses_never_gets_the_fragment_rendered_for_another(
    conversation: Conversation, operator: User, teammate: User, outsider: User, delivery: Team
) -> None:
    # given: the conversation goes from support (and Anna) to the delivery team's queue
    conversation_services.conversation_transfer(
        conversation=conversation, team=delivery, operator=None, reason="courier", actor=operator
    )
    event = last_event("conversation.changed", conversation)

    # when: Vera (delivery, same view as Boris) renders first, then Boris (support) hears it
    seen, gone = decorate_all(event, [outsider], subscriptions=None) + decorate_all(
        event, [teammate]
    )

    # then: Vera gets the row; Boris is told the row is gone, with nothing of it
    assert "Svetlana Morozova" in seen["html"]["row"]
    assert gone["html"]["row"] == ""
    assert "message" not in gone["html"]


def test_a_deleted_message_is_removed_for_those_who_do_not_see_deleted_messages(
    conversation: Conversation, operator: User, admin_user: User
) -> None:
    message = Message.objects.filter(conversation=conversation).get()
    message_services.message_delete(message=message, actor=admin_user)
    event = last_event("message.deleted", conversation)

    for_operator, for_admin = decorate_all(event, [operator, admin_user])

    assert for_operator["html"]["message"] == ""
    assert "is-deleted" in for_admin["html"]["message"]
    assert f'id="message-{message.pk}"' in for_admin["html"]["message"]
    # a fragment shared by a whole view carries nobody's CSRF token
    assert "csrfmiddlewaretoken" not in for_admin["html"]["message"]


def test_the_message_goes_only_to_sockets_that_have_the_conversation_open(
    conversation: Conversation, operator: User
) -> None:
    factories.receive(conversation, "Алло?")
    event = last_event("message.created", conversation)

    (closed,) = decorate_all(event, [operator], subscriptions=set())
    (open_,) = decorate_all(event, [operator], subscriptions={conversation.pk})

    assert "message" not in closed["html"]
    assert "Алло?" in open_["html"]["message"]


def test_events_about_no_conversation_are_sent_as_they_are(operator: User) -> None:
    event = {"type": "presence.changed", "id": next(_ids), "user_id": operator.pk}

    (sent,) = decorate_all(event, [operator])

    assert sent is event


def test_may_see_is_the_gate(
    support_inbox: Inbox,
    delivery_inbox: Inbox,
    operator: User,
    teammate: User,
    outsider: User,
    admin_user: User,
    super_admin: User,
) -> None:
    # given: conversations in each state the gate decides on
    made = []
    for inbox in (support_inbox, delivery_inbox):
        for assignee in (None, operator, outsider):
            made.append(factories.make_conversation(inbox=inbox, assignee=assignee))
    deleted = factories.make_conversation(inbox=support_inbox, assignee=operator)
    conversation_services.conversation_delete(conversation=deleted, reason="", actor=admin_user)
    made.append(Conversation.objects.get(pk=deleted.pk))
    no_team = factories.make_conversation(inbox=factories.make_inbox(), assignee=teammate)
    made.append(no_team)

    for user in (operator, teammate, outsider, admin_user, super_admin):
        user = User.objects.get(pk=user.pk)
        visible = set(
            visible_conversations(user, include_deleted=True).values_list("pk", flat=True)
        )
        for conversation in made:
            facts = live_render.Facts(
                team_id=conversation.team_id,
                assignee_id=conversation.assignee_id,
                deleted=conversation.deleted_at is not None,
            )
            assert live_render.may_see(user, facts) == (conversation.pk in visible), (
                user.username,
                conversation.pk,
            )


def test_the_pushed_row_is_the_row_the_page_renders(
    client, conversation: Conversation, operator: User
) -> None:
    # given: a change the socket pushes, and the list page rendered after it
    conversation_services.conversation_set_priority(
        conversation=conversation, priority=Conversation.Priority.URGENT, actor=operator
    )
    (pushed,) = decorate_all(last_event("conversation.changed", conversation), [operator])
    client.force_login(operator)
    page = client.get(reverse("inbox"), {"view": "mine"}).content.decode()

    # then: one template, one markup; the page adds only its list state to the link
    found = re.search(
        rf'<li class="row[^"]*" data-conversation-id="{conversation.pk}".*?</li>', page, re.S
    )
    assert found is not None
    page_row = found.group(0).replace(f'href="/inbox/c/{conversation.pk}/?view=mine"', "")
    pushed_row = pushed["html"]["row"].replace(f'href="/inbox/c/{conversation.pk}/"', "")
    assert " ".join(page_row.split()) == " ".join(pushed_row.split())
    assert "+7•••67" in page_row and PHONE not in page


def committed(type: str, conversation: Conversation) -> list[dict[str, Any]]:
    """The events of `type` logged for `conversation`, with the ids their commits stamped."""
    rows = LiveEvent.objects.filter(
        type=type, conversation_id=conversation.pk, seq__isnull=False
    ).order_by("seq")
    return [{**row.payload, "id": row.seq} for row in rows]


def test_a_burst_of_changes_to_one_conversation_costs_one_render(
    conversation: Conversation, operator: User, teammate: User, renders
) -> None:
    # given: three changes of one conversation, all committed before its socket hears them
    # (a process behind its sockets)
    for text in ("Первое", "Второе", "Третье"):
        factories.receive(conversation, text)
    first, second, third = committed("conversation.changed", conversation)[-3:]

    # when: the first is rendered, then the others are heard
    sent = [
        *decorate_all(first, [operator]),
        *decorate_all(second, [operator, teammate]),
        *decorate_all(third, [teammate]),
    ]

    # then: one render, read after all three committed, serves every one of them
    assert renders["chats/_row.html"] == 1
    assert {message["html"]["row"] for message in sent} == {sent[0]["html"]["row"]}
    assert "Третье" in sent[0]["html"]["row"]

    # and a change committed after that render is rendered anew
    factories.receive(conversation, "Четвёртое")
    (fourth,) = committed("conversation.changed", conversation)[-1:]
    (later,) = decorate_all(fourth, [operator])
    assert renders["chats/_row.html"] == 2
    assert "Четвёртое" in later["html"]["row"]


def test_a_coalesced_row_still_goes_only_to_those_who_may_see_it(
    conversation: Conversation,
    operator: User,
    teammate: User,
    outsider: User,
    delivery: Team,
    renders,
) -> None:
    # given: a message, then the conversation moves to the delivery team and nobody in support
    factories.receive(conversation, "Где курьер?")
    (received,) = committed("conversation.changed", conversation)[-1:]
    conversation_services.conversation_transfer(
        conversation=conversation, team=delivery, operator=None, reason="courier", actor=operator
    )
    moved = committed("conversation.changed", conversation)[-1]
    assert moved["id"] > received["id"]

    # when: Vera (delivery) renders the newer event, then Boris (support) hears the older one
    live_render.view_key(teammate)  # as on a consumer's user after its first event
    live_render.may_see(teammate, live_render.Facts(team_id=None, assignee_id=None, deleted=False))
    (seen,) = decorate_all(moved, [outsider])
    with queries_in_every_thread() as queries:
        (gone,) = decorate_all(received, [teammate])

    # then: the row read after both serves both (Boris's costs no query), and it is Vera's
    # only: Boris is told the row is gone
    assert queries == []
    assert renders["chats/_row.html"] == 1
    assert "Svetlana Morozova" in seen["html"]["row"]
    assert gone["html"]["row"] == ""


def test_the_row_and_its_classifier_chip_are_one_query(
    conversation: Conversation, operator: User
) -> None:
    from django.utils import timezone

    from analytics.ai.models import Classification, Label

    Classification.objects.create(
        conversation=conversation,
        label=Label.COMPLAINT,
        confidence=0.93,
        model_version="test",
        stage=Classification.Stage.FIRST,
        classified_at=timezone.now(),
    )
    live_render.view_key(operator)
    live_render.may_see(operator, live_render.Facts(team_id=None, assignee_id=None, deleted=False))
    factories.receive(conversation, "Опять опоздали")
    event = last_event("conversation.changed", conversation)

    with queries_in_every_thread() as queries:
        (sent,) = decorate_all(event, [operator])

    assert len(queries) == 1, queries
    assert 'data-ai-label="complaint"' in sent["html"]["row"]


def test_the_row_query_is_planned_once_per_connection_not_on_every_event(
    conversation: Conversation, operator: User
) -> None:
    """PostgreSQL takes longer to plan the row's query (joins, the gate's subquery, the
    watermark over the live-event partitions) than to run it: bound on the server and
    prepared, it is planned once per connection and then served by its generic plan."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    event = last_event("conversation.changed", conversation)
    key = live_render.view_key(operator)
    with CaptureQueriesContext(connection) as queries:
        live_render._render(operator, event, live_render.ROW_ONLY, key)
    (row_sql,) = [query["sql"] for query in queries.captured_queries]

    # when: the row is read for twenty events on this connection
    for _ in range(20):
        live_render._render(operator, event, live_render.ROW_ONLY, key)

    # then: the query is a prepared statement, and most reads used its one generic plan
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE statement LIKE %s AND statement LIKE %s",
            # the text before its first parameter (PostgreSQL keeps `$n` where Django's
            # record of the query shows the values), and what only this query reads
            [re.split(r"%s|'|\$\d", row_sql)[0][:200] + "%", '%"live_watermark"%'],
        )
        plans = cursor.fetchall()
    assert plans, "the row's query was never prepared"
    ((generic, custom),) = plans
    assert generic >= 10 and custom <= 5, plans


def test_the_row_query_is_compiled_once_per_user_not_on_every_event(
    conversation: Conversation, operator: User, monkeypatch
) -> None:
    """Building and compiling the row's query cost more CPU than the rest of the read: it is
    compiled for the first event and run again, with the conversation and the time put in,
    for the next ones (smartdesk/core/statements.py)."""
    from django.utils import timezone

    from tests.compiles import compiled_models

    other = factories.make_conversation(
        inbox=conversation.inbox, text="Где курьер?", assignee=operator
    )
    key = live_render.view_key(operator)
    live_render._render(operator, last_event("conversation.changed", conversation), ("row",), key)
    # A snooze whose time has passed reads as open: the time is put in at each read (this
    # one passes after the statement was compiled, so a time compiled in would show it snoozed).
    Conversation.objects.filter(pk=other.pk).update(
        status=Conversation.Status.SNOOZED, snoozed_until=timezone.now()
    )
    targets = (conversation, other, conversation)
    events = [last_event("conversation.changed", target) for target in targets]
    compiled = compiled_models(monkeypatch)
    rows = [live_render._render(operator, event, ("row",), key) for event in events]

    assert compiled == []
    for target, rendered in zip(targets, rows, strict=True):
        assert rendered is not None
        assert f'data-conversation-id="{target.pk}"' in rendered.html["row"]
    assert rows[1] is not None and 'data-status="open"' in rows[1].html["row"]


def test_on_another_database_the_row_is_read_the_plain_way(
    conversation: Conversation, operator: User, monkeypatch
) -> None:
    """The embedded product's SQLite takes the row's queryset as built, with the same answer
    (smartdesk/core/statements.py supports PostgreSQL only)."""
    from django.db import connection

    from chats.views.presenters import list_row, listing

    expected = list_row(operator, conversation.pk)

    def compiled(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the compiled statement is for PostgreSQL only")

    monkeypatch.setattr(connection, "vendor", "sqlite")
    monkeypatch.setattr(listing, "_row_statement", compiled)
    monkeypatch.setattr(listing, "_row_statements", listing.Reusables())
    found = list_row(operator, conversation.pk)
    assert found is not None and expected is not None
    assert (found.pk, found.effective_status, found.contact_shown) == (
        expected.pk,
        expected.effective_status,
        expected.contact_shown,
    )
