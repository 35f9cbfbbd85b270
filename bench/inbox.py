"""Inbox and thread page server time, against a bare raw-SQL view in the same run.

    .venv/bin/python bench/inbox.py [--conversations 100000] [--messages 1000000] [--requests 60]
                                    [--months 24]
    .venv/bin/python bench/inbox.py --smoke     # seconds: proves it runs (CI)

Builds its own PostgreSQL database (`bench_inbox_<pid>`, dropped at the end; bench/common.py),
fills it in SQL, then times full requests through Django's handler (all middleware, session,
the access gate, template rendering) with the test client. Prints p50/p95 and the query count
for each page at a small and at the full data size, beside a bare view that returns the same
rows by one raw SQL query. Not a test: it asserts nothing about speed, it prints.

History partitioning (bench/twin.py): the full size is measured twice on the same
rows, first with today's plain `chats_message` (the schema before the partitioning
migrations), then after those migrations converted it into monthly partitions; messages are
spread over `--months` months so that they fill that many partitions. The two sets of figures
are printed side by side, with the migration's wall time.
"""

from __future__ import annotations

import logging
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common, twin

common.production_env()
OPERATORS = 300  # --smoke: 12
SPREAD_SECONDS = 24 * 30 * 86400  # messages spread over --months (a conversation's stay close)
os.environ.pop("REDIS_URL", None)  # in-memory layer: nothing here publishes


PAGE_ROWS_SQL = """
SELECT c.id, c.status, c.priority, c.waiting_since, c.last_message_at, c.last_message_preview,
       c.unread_count, cu.first_name, cu.last_name, i.kind, i.name, u.username
  FROM chats_conversation c
  JOIN customers_customer cu ON cu.id = c.customer_id
  JOIN chats_inbox i ON i.id = c.inbox_id
  LEFT JOIN accounts_user u ON u.id = c.assignee_id
 WHERE c.deleted_at IS NULL
   AND (c.status = 'open' OR (c.status = 'snoozed' AND c.snoozed_until <= now()))
 ORDER BY c.priority DESC, c.waiting_since ASC NULLS LAST, c.last_message_at DESC NULLS LAST, c.id
 LIMIT 50
"""

THREAD_ROWS_SQL = """
SELECT m.id, m.kind, m.body, m.created_at, m.delivery_status, u.username
  FROM chats_message m LEFT JOIN accounts_user u ON u.id = m.author_id
 WHERE m.conversation_id = %s AND m.deleted_at IS NULL
 ORDER BY m.created_at DESC, m.id DESC
 LIMIT 200
"""


def bare_inbox(request):  # the baseline: one raw query, the same rows, minimal HTML
    from django.db import connection
    from django.http import HttpResponse
    from django.utils.html import escape

    with connection.cursor() as cursor:
        cursor.execute(PAGE_ROWS_SQL)
        rows = cursor.fetchall()
    return HttpResponse("".join(f"<li>{escape(r)}</li>" for r in rows))


def bare_thread(request, pk: int):
    from django.db import connection
    from django.http import HttpResponse
    from django.utils.html import escape

    with connection.cursor() as cursor:
        cursor.execute(THREAD_ROWS_SQL, [pk])
        rows = cursor.fetchall()
    return HttpResponse("".join(f"<li>{escape(r)}</li>" for r in rows))


def _fill(conversations: int, messages: int, start_conversation: int = 0) -> None:
    """Add `conversations` conversations (and customers) and `messages` messages among them."""
    from django.db import connection

    lo, hi = start_conversation + 1, start_conversation + conversations
    with connection.cursor() as c:
        c.execute(
            """
            INSERT INTO customers_customer (id, first_name, last_name, language, created_at, updated_at)
            SELECT g, 'Customer' || g, 'Benchmark', 'ru', now(), now()
              FROM generate_series(%s::int, %s::int) g""",
            [lo, hi],
        )
        c.execute(
            """
            INSERT INTO customers_identity (customer_id, kind, value, verified, created_at)
            SELECT g, 'email', 'c' || g || '@bench.test', true, now()
              FROM generate_series(%s::int, %s::int) g""",
            [lo, hi],
        )
        # 15% open, 5% snoozed (a fifth of them already due), 80% closed; OPERATORS operators
        c.execute(
            """
            INSERT INTO chats_conversation (
                id, customer_id, inbox_id, team_id, assignee_id, status, priority, topic,
                snoozed_until, snooze_until_reply, snooze_reason, waiting_since,
                first_response_at, last_message_at, last_message_preview, unread_count,
                closed_at, created_at, updated_at, deleted_at, deleted_by_id, assigned_at)
            SELECT g, g, 1 + g %% 3, 1 + g %% 10,
                   CASE WHEN g %% 7 = 0 THEN NULL ELSE 2 + g %% %s END,
                   CASE WHEN g %% 20 < 3 THEN 'open' WHEN g %% 20 = 3 THEN 'snoozed' ELSE 'closed' END,
                   CASE WHEN g %% 50 = 0 THEN 2 WHEN g %% 10 = 0 THEN 1 ELSE 0 END, '',
                   CASE WHEN g %% 20 = 3 THEN now() + ((g %% 5) - 1) * interval '1 hour' END,
                   g %% 20 = 3, '',
                   CASE WHEN g %% 20 < 3 THEN now() - (g %% 600) * interval '1 second' END,
                   now() - interval '1 day', now() - (g %% 86400) * interval '1 second',
                   'Where is my order number ' || g || '?', g %% 4,
                   CASE WHEN g %% 20 > 3 THEN now() - interval '1 hour' END,
                   now() - interval '2 days', now(), NULL, NULL,
                   CASE WHEN g %% 7 = 0 THEN NULL ELSE now() - interval '1 day' END
              FROM generate_series(%s::int, %s::int) g""",
            [OPERATORS, lo, hi],
        )
        c.execute(
            """
            INSERT INTO chats_message (conversation_id, inbox_id, kind, author_id, body, attachments,
                                       external_id, delivery_status, delivery_error, created_at,
                                       deleted_at, deleted_by_id)
            SELECT %s + g %% %s, 1 + (%s + g %% %s) %% 3,
                   CASE WHEN g %% 3 = 0 THEN 'outbound' WHEN g %% 11 = 0 THEN 'note' ELSE 'inbound' END,
                   CASE WHEN g %% 3 = 0 OR g %% 11 = 0 THEN 2 + g %% %s END,
                   'Сообщение номер ' || g || ': курьер, кунжут, доставка, order status',
                   '[]'::jsonb, NULL,
                   CASE WHEN g %% 3 = 0 THEN 'sent' ELSE '' END, '',
                   now() - ((g %% %s)::bigint * %s / %s) * interval '1 second'
                         - (g %% 3600) * interval '1 second', NULL, NULL
              FROM generate_series(1, %s) g""",
            [
                lo,
                conversations,
                lo,
                conversations,
                OPERATORS,
                conversations,
                SPREAD_SECONDS,
                conversations,
                messages,
            ],
        )
        for table in ("customers_customer", "chats_conversation"):
            c.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
        c.execute("ANALYZE")


def _setup_people() -> tuple[object, object]:
    from accounts.models import Role, Team
    from accounts.services import user_create
    from chats.models import Inbox

    teams = [Team.objects.create(name=f"Team {n}") for n in range(1, 11)]
    admin = user_create(
        username="bench-admin", password=None, role=Role.objects.get(slug=Role.ADMIN), actor=None
    )
    operator_role = Role.objects.get(slug=Role.OPERATOR)
    operators = [
        user_create(
            username=f"op{n}", password=None, role=operator_role, teams=[teams[n % 10]], actor=None
        )
        for n in range(OPERATORS)
    ]
    for n, kind in enumerate(["widget", "mobile", "api"], start=1):
        Inbox.objects.create(id=n, name=f"Inbox {n}", kind=kind, default_team=teams[n])
    return admin, operators[5]


def time_requests(get: Callable[[], object], requests: int) -> tuple[float, float, int]:
    """p50 and p95 server time in ms of `requests` calls of `get` (after a warm-up), and how
    many queries one call makes (that call must answer 200)."""
    from django.db import connection

    get()  # warm up caches and the connection
    queries: list[str] = []

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        response = get()
    assert response.status_code == 200, response.status_code
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        get()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, int(len(samples) * 0.95))]
    return statistics.median(samples), p95, len(queries)


def _measure(label: str, requests: int) -> dict[str, tuple[float, float, int]]:
    from django.test import Client
    from django.test.utils import override_settings
    from django.urls import path

    from accounts.models import User
    from chats.models import Conversation

    admin = User.objects.get(username="bench-admin")
    client = Client()
    client.force_login(admin)
    busy = (
        Conversation.objects.filter(status="open")
        .order_by("-id")
        .values_list("pk", flat=True)
        .first()
    )
    counts = Conversation.objects.count(), _message_count()

    class Urls:
        urlpatterns = [
            path("bare/inbox/", bare_inbox),
            path("bare/thread/<int:pk>/", bare_thread),
        ]

    print(
        f"\n{label}: {counts[0]:,} conversations, {counts[1]:,} messages; {requests} requests each"
    )
    print(f"  {'page':<34}{'p50 ms':>9}{'p95 ms':>9}{'queries':>9}")
    rows = [
        ("inbox page /inbox/?view=all", lambda: client.get("/inbox/?view=all")),
        ("thread page /inbox/c/<busy>/", lambda: client.get(f"/inbox/c/{busy}/")),
    ]
    figures = {}
    for name, get in rows:
        p50, p95, q = time_requests(get, requests)
        figures[name] = (p50, p95, q)
        print(f"  {name:<34}{p50:>9.2f}{p95:>9.2f}{q:>9}")
    with override_settings(ROOT_URLCONF=Urls):
        for name, url in (
            ("bare raw-SQL inbox (baseline)", "/bare/inbox/"),
            ("bare raw-SQL thread (baseline)", f"/bare/thread/{busy}/"),
        ):
            p50, p95, q = time_requests(lambda url=url: client.get(url), requests)
            figures[name] = (p50, p95, q)
            print(f"  {name:<34}{p50:>9.2f}{p95:>9.2f}{q:>9}")
    return figures


def _message_count() -> int:
    from django.db import connection

    with connection.cursor() as c:
        c.execute("SELECT count(*) FROM chats_message")
        return c.fetchone()[0]


def main() -> None:
    parser = common.parser(__doc__)
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--months", type=int, default=24, help="the messages' time span")
    args = parser.parse_args()
    if args.smoke:
        args.conversations, args.messages, args.requests = 2_000, 10_000, 5
        global OPERATORS
        OPERATORS = 12
    common.smoke_note(args.smoke)

    global SPREAD_SECONDS
    SPREAD_SECONDS = args.months * 30 * 86400
    common.private_database("inbox")
    common.setup_django()
    logging.disable(logging.INFO)  # the eager Celery tasks of the set-up log every user
    common.collectstatic()  # production static storage
    twin.to_plain()  # today's schema: one plain messages table
    _setup_people()
    started = time.perf_counter()
    _fill(args.conversations, args.messages)
    print(
        f"loaded {args.conversations:,} conversations / {args.messages:,} messages over"
        f" {args.months} months in {time.perf_counter() - started:.1f}s"
    )
    twin.vacuum_analyze()
    figures = {twin.PLAIN: _measure(f"{twin.PLAIN} (today's schema)", args.requests)}
    took = twin.to_partitioned()
    print(
        f"\npartitioning migrations on this data: {took:.1f} s"
        f" ({twin.partition_count()} message partitions)"
    )
    twin.vacuum_analyze()
    figures[twin.PARTITIONED] = _measure(twin.PARTITIONED, args.requests)
    twin.side_by_side(
        f"side by side, {args.messages:,} messages (ms)", figures, ("p50 ms", "p95 ms")
    )


if __name__ == "__main__":
    main()
