"""Every list order the operator UI and the REST API offer is read from an index that holds it.

At 20,000 conversations (made in one INSERT … SELECT) each list's own query, as the page or the
endpoint sends it, is EXPLAINed on PostgreSQL: the plan must read the named index in order and
sort nothing. Without the index the planner sorts the candidate rows for every page, and that
cost grows with the table (chats.0007).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.models import Team, User
from chats.models import Conversation, Inbox
from tests import factories

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the list indexes are PostgreSQL's"
)

ROWS = 20_000
LIST = "/api/v1/conversations/"
# A sort of at most this share of the table is a narrow set, not the table (2% = 400 rows).
SORTABLE_SHARE = 0.02


@pytest.fixture
def crowd(
    admin_user: User,
    operator: User,
    teammate: User,
    support: Team,
    delivery: Team,
    support_inbox: Inbox,
) -> None:
    """20,000 conversations shaped like a floor: most closed, a tenth open, a few snoozed
    (some due), 2% deleted, over two teams; each of 50 operators holds 2% of them and a tenth
    wait unassigned."""
    customer = factories.make_customer("Crowd")
    others = User.objects.bulk_create(User(username=f"crowd{n}") for n in range(42))
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO chats_conversation (
                customer_id, inbox_id, team_id, assignee_id, assigned_at, status, priority,
                topic, snoozed_until, snooze_until_reply, snooze_reason, waiting_since,
                last_message_at, last_message_preview, unread_count, closed_at, load_weight,
                created_at, updated_at, deleted_at)
            SELECT %(customer)s, %(inbox)s,
                   CASE WHEN g %% 2 = 0 THEN %(support)s ELSE %(delivery)s END,
                   CASE WHEN g %% 50 = 0 THEN %(operator)s WHEN g %% 50 = 1 THEN %(teammate)s
                        WHEN g %% 50 = 2 THEN %(admin)s WHEN g %% 50 >= 45 THEN NULL
                        ELSE (%(others)s::bigint[])[g %% 50 - 2] END,
                   CASE WHEN g %% 50 < 45 THEN now() END,
                   CASE WHEN g %% 100 < 10 THEN 'open'
                        WHEN g %% 100 < 13 THEN 'snoozed' ELSE 'closed' END,
                   CASE WHEN g %% 50 = 0 THEN 2 WHEN g %% 10 = 0 THEN 1 ELSE 0 END,
                   '',
                   CASE WHEN g %% 100 IN (10, 11) THEN now() + (g %% 3 - 1) * interval '1 hour' END,
                   g %% 100 = 12, '',
                   CASE WHEN g %% 100 < 10 THEN now() - (g %% 900) * interval '1 second' END,
                   now() - (g %% 86400) * interval '1 second', 'Where is my order?', g %% 3,
                   CASE WHEN g %% 100 >= 13 THEN now() - (g %% 7200) * interval '1 second' END,
                   1,
                   now() - (%(rows)s - g) * interval '1 minute',
                   now() - (g %% 5000) * interval '1 second',
                   CASE WHEN g %% 50 = 7 THEN now() END
              FROM generate_series(1, %(rows)s) g
            """,
            {
                "customer": customer.pk,
                "inbox": support_inbox.pk,
                "support": support.pk,
                "delivery": delivery.pk,
                "operator": operator.pk,
                "teammate": teammate.pk,
                "admin": admin_user.pk,
                "others": [user.pk for user in others],
                "rows": ROWS,
            },
        )
        # Every table, not only this one: statistics left by earlier tests on this database
        # (a joined table once full, now empty) must not steer the plan.
        cursor.execute("ANALYZE")
    assert Conversation.objects.count() == ROWS


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _list_query(fetch: Callable[[], Any]) -> str:
    """The SQL of the page's list query: the one reading conversations in a fixed order."""
    with CaptureQueriesContext(connection) as captured:
        response = fetch()
    assert response.status_code == 200, response.content[:300]
    lists = [
        q["sql"]
        for q in captured.captured_queries
        if 'FROM "chats_conversation"' in q["sql"]
        and "ORDER BY" in q["sql"]
        and "LIMIT" in q["sql"]
    ]
    assert len(lists) == 1, lists
    return lists[0]


def _conversation_indexes(node: dict[str, Any]) -> set[str]:
    """The indexes a plan (node) reads conversations through: index scans name the table,
    bitmap index scans only the index."""
    found = set()
    for n in _nodes(node):
        name = n.get("Index Name", "")
        if n.get("Relation Name") == "chats_conversation" or name.startswith("conv_"):
            found.add(name or n["Node Type"])
    return found


def plan_problem(sql: str, indexes: list[str]) -> str | None:
    """Why the plan of `sql` is not a read of the list through one of `indexes` (None: it
    is). The index must hold the list's rows in order (no sort) or narrow them to the few that
    its fixed filter selects, which may then be sorted (an operator's own conversations, a
    team's queue): a sort is only wrong when it takes a sizeable share of the table."""
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
        plan = cursor.fetchone()[0]
    plan = plan[0]["Plan"] if isinstance(plan, list) else plan
    used = _conversation_indexes(plan)
    big_sorts = [
        (n.get("Sort Key"), n["Plans"][0]["Plan Rows"])
        for n in _nodes(plan)
        if "Sort" in n["Node Type"]
        and _conversation_indexes(n)
        and n["Plans"][0]["Plan Rows"] > ROWS * SORTABLE_SHARE
    ]
    if used & set(indexes) and not big_sorts:
        return None
    return f"wanted {indexes}, read {sorted(used)}, sorted (keys, rows) {big_sorts}"


def _client(user: User) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


# One operator's active conversations (and the due snoozes, which the sweep wakes within a
# minute): few whatever the table's size, so reading them by assignee and sorting is cheaper
# than an index in working order (such an index was tried: the planner never chose it).
NARROW_MINE = ["conv_assignee", "conv_snooze_due"]
# The active rows of the operator's teams, likewise.
NARROW_TEAM = ["conv_snooze_due", "conv_team_status", "conv_queue_order"]

# (who, UI page or API url, the indexes that hold its order or narrow it)
LISTS = [
    # The operator UI: chats.selectors.inbox, through the page.
    ("admin_user", "/inbox/?view=all", ["conv_active_order"]),
    ("admin_user", "/inbox/?view=mine", NARROW_MINE),
    ("admin_user", "/inbox/?view=queue", ["conv_unassigned_order"]),
    ("admin_user", "/inbox/?view=snoozed", ["conv_snoozed_order"]),
    ("admin_user", "/inbox/?view=closed", ["conv_closed_order"]),
    ("admin_user", "/inbox/?view=deleted", ["conv_deleted_order"]),
    ("admin_user", "/inbox/?view=closed&page=3", ["conv_closed_order"]),
    ("admin_user", "/inbox/?q=Crowd", ["conv_recent_order"]),
    ("operator", "/inbox/?view=mine", NARROW_MINE),
    ("operator", "/inbox/?view=queue", ["conv_unassigned_order", *NARROW_TEAM]),
    ("operator", "/inbox/?view=team", ["conv_active_order", *NARROW_TEAM]),
    ("operator", "/inbox/?view=snoozed", ["conv_snoozed_order"]),
    ("operator", "/inbox/?view=closed", ["conv_closed_order"]),
    # The REST list: cursor on created_at or updated_at, within a view or not.
    ("admin_user", LIST, ["conv_created_order"]),
    ("admin_user", LIST + "?ordering=created_at", ["conv_created_order"]),
    ("admin_user", LIST + "?ordering=updated_at", ["conv_updated_order"]),
    ("admin_user", LIST + "?ordering=-updated_at", ["conv_updated_order"]),
    ("admin_user", LIST + "?view=all", ["conv_active_created"]),
    ("admin_user", LIST + "?view=all&ordering=created_at", ["conv_active_created"]),
    ("admin_user", LIST + "?view=mine", NARROW_MINE),
    ("admin_user", LIST + "?view=queue", ["conv_active_created"]),
    ("admin_user", LIST + "?view=snoozed", ["conv_snoozed_created"]),
    ("admin_user", LIST + "?view=closed", ["conv_created_order"]),
    ("admin_user", LIST + "?view=deleted", ["conv_deleted_created"]),
    ("operator", LIST, ["conv_created_order"]),
    ("operator", LIST + "?view=mine", NARROW_MINE),
    ("operator", LIST + "?view=team", ["conv_active_created", *NARROW_TEAM]),
    ("operator", LIST + "?view=queue", ["conv_active_created", *NARROW_TEAM]),
    ("operator", LIST + "?view=closed", ["conv_created_order"]),
]


@pytest.mark.usefixtures("crowd")
def test_every_list_order_is_read_from_an_index_without_sorting(
    request: pytest.FixtureRequest,
) -> None:
    # One table for all the lists: building 20,000 rows once keeps this test a few seconds.
    problems = []
    for who, url, indexes in LISTS:
        client = _client(request.getfixturevalue(who))
        problem = plan_problem(_list_query(lambda: client.get(url)), indexes)  # noqa: B023
        if problem:
            problems.append(f"{who} {url}: {problem}")
    assert not problems, "\n".join(problems)


@pytest.mark.usefixtures("crowd")
def test_the_api_cursor_keeps_reading_the_index_on_later_pages(admin_user: User) -> None:
    client = _client(admin_user)
    following = client.get(LIST, {"view": "all", "page_size": 20}).json()["next"]
    assert plan_problem(_list_query(lambda: client.get(following)), ["conv_active_created"]) is None
