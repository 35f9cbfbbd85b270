"""Statistics: roll-up rebuild, dashboard and heatmap server time, a 1M-row-class CSV export.

    .venv/bin/python bench/analytics.py [--conversations 1000000] [--messages-per 10]
                                        [--calls 1000000] [--days 180] [--requests 15]

Builds its own PostgreSQL database (`bench_analytics_<pid>`, dropped at the end;
bench/common.py; `--smoke`: seconds, for CI) and fills it server-side (`INSERT … SELECT generate_series`, the fastest path into
PostgreSQL; no Python row loop): conversations spread over `--days`, `--messages-per`
messages each, a `closed` audit event for the closed ones, `--calls` telephony calls.
Then, in one process:

- `analytics_rebuild` from scratch (facts + hourly roll-ups), wall time;
- the dashboard page (`/statistics/?period=30d`, Django's full handler: session, access
  gate, every selector, templates) and the heatmap selector: p50 / p95 server time, beside a
  raw-SQL baseline computing only volume and average first response straight from the
  conversations table over the same 30 days (what a dashboard without roll-ups would scan);
- a CSV export of every conversation (`analytics.exports`, the streamed path of
  `/api/v1/reports/conversations.csv`): rows per second and Python peak memory
  (tracemalloc), beside PostgreSQL `COPY (SELECT the same columns) TO STDOUT` read by
  psycopg in the same run.

- a CSV export of the last 7 days of messages (the period-filtered path on the history
  table).

History partitioning (issue 15, bench/twin.py): all of the above runs twice on the same rows,
first with today's plain `chats_message` (the schema before the partitioning migrations),
then after those migrations converted it into monthly partitions (their wall time printed),
and the two sets of figures are printed side by side. The defaults make 10M messages.

Not a test: it asserts nothing about speed, it prints.
"""

from __future__ import annotations

import itertools
import os
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import common, twin  # noqa: E402

common.production_env()
os.environ.pop("REDIS_URL", None)


def _fill(conversations: int, messages_per: int, calls: int, days: int) -> dict[str, float]:
    from django.db import connection

    from accounts.models import Role, Team
    from tests import factories

    timings = {}
    with connection.cursor() as cur:
        cur.execute(
            "TRUNCATE analytics_conversationfact, analytics_hourlychat, analytics_hourlyactivity,"
            " analytics_hourlycall, analytics_hourlypresence, analytics_csatresponse,"
            " analytics_rollupstate, chats_message, chats_conversationevent, chats_conversation,"
            " telephony_call CASCADE"
        )
    factories.builtin_roles()
    teams = [factories.make_team("Bench A"), factories.make_team("Bench B")]
    if not Team.objects.filter(name="Bench A").exists():
        raise SystemExit("teams missing")
    operators = [
        factories.make_user(username=f"bench-op{n}", role=Role.OPERATOR, teams=[teams[n % 2]])
        if not factories.User.objects.filter(username=f"bench-op{n}").exists()
        else factories.User.objects.get(username=f"bench-op{n}")
        for n in range(20)
    ]
    from chats.models import Inbox

    inboxes = [
        Inbox.objects.get_or_create(
            name=f"bench-{kind}", defaults={"kind": kind, "default_team": teams[i % 2]}
        )[0]
        for i, kind in enumerate(["widget", "telegram", "mobile", "api"])
    ]
    ops = "ARRAY[" + ",".join(str(o.pk) for o in operators) + "]::bigint[]"
    inb = "ARRAY[" + ",".join(str(i.pk) for i in inboxes) + "]::bigint[]"
    tms = "ARRAY[" + ",".join(str(t.pk) for t in teams) + "]::bigint[]"
    start = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM customers_customer WHERE first_name = 'bench'")
        have = cur.fetchone()[0]
        if have < 10000:
            cur.execute(
                "INSERT INTO customers_customer (first_name, last_name, language, created_at,"
                " updated_at, notes) SELECT 'bench', 'c' || g, '', now(), now(), ''"
                " FROM generate_series(1, %s) g",
                [10000 - have],
            )
        cur.execute("SELECT min(id), max(id) FROM customers_customer WHERE first_name='bench'")
        cmin, cmax = cur.fetchone()
        # created spread over `days`; 85 % closed after 5-60 min; first reply after 5-300 s.
        cur.execute(
            f"""
            INSERT INTO chats_conversation (status, priority, topic, snooze_until_reply,
                snooze_reason, last_message_preview, unread_count, created_at, updated_at,
                customer_id, inbox_id, team_id, assignee_id, assigned_at, load_weight,
                first_response_at, closed_at)
            SELECT CASE WHEN g % 100 < 85 THEN 'closed' ELSE 'open' END, 0,
                (ARRAY['delivery','payment','menu',''])[1 + g % 4], false, '', '', 0,
                t, t, {cmin} + g % ({cmax} - {cmin} + 1), ({inb})[1 + g % 4],
                ({tms})[1 + g % 2], ({ops})[1 + g % 20], t, 1,
                t + make_interval(secs => 5 + (g::bigint * 7919) % 295),
                CASE WHEN g % 100 < 85 THEN t + make_interval(mins => 5 + g % 55) END
            FROM (SELECT g, now() - make_interval(secs => (g::bigint * 104729) % ({int(days)} * 86400)) AS t
                  FROM generate_series(1, {int(conversations)}) g) s
            """
        )
        cur.execute(
            "INSERT INTO chats_conversationevent (type, at, data, conversation_id)"
            " SELECT 'closed', closed_at, '{}'::jsonb, id FROM chats_conversation"
            " WHERE closed_at IS NOT NULL"
        )
        cur.execute(
            f"""
            INSERT INTO chats_message (kind, body, attachments, delivery_status, delivery_error,
                created_at, conversation_id, inbox_id, entities, author_id)
            SELECT CASE WHEN k % 2 = 1 THEN 'inbound' ELSE 'outbound' END,
                'message text ' || k, '[]'::jsonb, '', '',
                c.created_at + make_interval(secs => k * 30), c.id, c.inbox_id, '[]'::jsonb,
                CASE WHEN k % 2 = 0 THEN c.assignee_id END
            FROM chats_conversation c, generate_series(1, {int(messages_per)}) k
            """
        )
        cur.execute("SELECT id FROM telephony_pbx LIMIT 1")
        row = cur.fetchone()
        if row is None:
            cur.execute(
                "INSERT INTO telephony_pbx (name, host, port, username, secret, is_active,"
                " originate_context, dial_prefix, created_at)"
                " VALUES ('bench', '127.0.0.1', 5038, 'u', 's', true, 'from-internal', '', now())"
                " RETURNING id"
            )
            row = cur.fetchone()
        pbx = row[0]
        cur.execute(
            f"""
            INSERT INTO telephony_call (linkedid, uniqueid, direction, caller, caller_raw,
                caller_name, did, queue, state, started_at, queued_at, answered_at, ended_at,
                hold_seconds, talk_seconds, wrapup_seconds, wrapup_done, note, updated_at,
                pbx_id, operator_id)
            SELECT 'b' || g, 'b' || g, 'inbound', '', '', '', '', 'sales',
                CASE WHEN g % 10 = 0 THEN 'abandoned' ELSE 'completed' END, t, t,
                CASE WHEN g % 10 <> 0 THEN t + make_interval(secs => g % 60) END,
                t + make_interval(secs => g % 60 + CASE WHEN g % 10 = 0 THEN 0 ELSE 200 END),
                g % 60, CASE WHEN g % 10 = 0 THEN NULL ELSE 200 END, 30, true, '', t, {pbx},
                CASE WHEN g % 10 <> 0 THEN ({ops})[1 + g % 20] END
            FROM (SELECT g, now() - make_interval(secs => (g::bigint * 7727) % ({int(days)} * 86400)) AS t
                  FROM generate_series(1, {int(calls)}) g) s
            """
        )
        cur.execute("ANALYZE")
    timings["fill_s"] = time.perf_counter() - start
    return timings


def _p(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[max(0, int(len(ordered) * 0.95) - 1)]


def _measure(args, label: str) -> dict[str, tuple[float]]:
    """Roll-up rebuild, dashboard, heatmap, exports and their baselines, on this schema."""
    from django.db import connection
    from django.test import Client

    from accounts.models import User
    from analytics import exports, heatmap, rollups, selectors

    print(f"\n--- {label} ---")
    figures: dict[str, tuple[float]] = {}
    if not args.skip_rebuild:
        started = time.perf_counter()
        result = rollups.rollup_rebuild()
        figures["roll-up rebuild, s"] = (time.perf_counter() - started,)
        print(f"rebuild: {figures['roll-up rebuild, s'][0]:.1f} s ({result})")

    admin = User.objects.filter(username="bench-admin").first() or User.objects.create_superuser(
        "bench-admin",
        password="bench-pass-123",  # noqa: S106
    )
    client = Client()
    client.force_login(admin)
    client.get("/statistics/?period=30d")  # warm
    page = []
    for _ in range(args.requests):
        t = time.perf_counter()
        response = client.get("/statistics/?period=30d")
        page.append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200
    from django.utils import timezone

    now = timezone.now()
    filters = selectors.Filters(start=now - timezone.timedelta(days=30), end=now)
    heat = []
    for _ in range(args.requests):
        t = time.perf_counter()
        heatmap.heatmap(filters, metric="concurrent")
        heat.append((time.perf_counter() - t) * 1000)
    raw = []
    for _ in range(args.requests):
        t = time.perf_counter()
        with connection.cursor() as cur:
            cur.execute(
                "SELECT count(*), avg(extract(epoch FROM first_response_at - created_at))"
                " FROM chats_conversation WHERE created_at >= %s AND created_at < %s",
                [filters.start, filters.end],
            )
            cur.fetchone()
        raw.append((time.perf_counter() - t) * 1000)
    figures["dashboard p50, ms"], figures["dashboard p95, ms"] = ((v,) for v in _p(page))
    figures["heatmap selector p50, ms"], figures["heatmap selector p95, ms"] = (
        (v,) for v in _p(heat)
    )
    figures["raw-SQL baseline p50, ms"] = (_p(raw)[0],)
    print(
        "dashboard /statistics/?period=30d: p50 {:.1f} ms, p95 {:.1f} ms".format(*_p(page))
        + " | heatmap selector: p50 {:.1f} ms, p95 {:.1f} ms".format(*_p(heat))
        + " | raw-SQL baseline (volume + avg FRT scanned from conversations, 30 d):"
        " p50 {:.1f} ms, p95 {:.1f} ms".format(*_p(raw))
    )

    # CSV export of every conversation, streamed, vs COPY TO STDOUT of the same columns.
    ds = exports.DATASETS["conversations"]
    query = exports.Query()
    columns = ds.visible_columns(False)
    # Warm-up (imports, the first connection's caches), so the first pass pays none of it.
    for _line in itertools.islice(
        exports.csv_lines(columns, ds.rows(admin, query, pii=False)), 100
    ):
        pass
    t = time.perf_counter()
    rows = size = 0
    for line in exports.csv_lines(columns, ds.rows(admin, query, pii=False)):
        rows += 1
        size += len(line)
    elapsed = time.perf_counter() - t
    rows -= 1  # the header
    # Memory in a second pass: tracemalloc slows Python down, so it is not timed.
    tracemalloc.start()
    for _line in exports.csv_lines(columns, ds.rows(admin, query, pii=False)):
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    figures["CSV export (conversations), rows/s"] = (rows / elapsed,)
    print(
        f"CSV export: {rows} rows in {elapsed:.1f} s = {rows / elapsed:,.0f} rows/s,"
        f" {size / 1e6:.0f} MB, Python peak memory {peak / 1e6:.1f} MB (tracemalloc)"
    )
    raw_conn = connection.connection
    t = time.perf_counter()
    copied = 0
    with (
        raw_conn.cursor() as cur,
        cur.copy(
            "COPY (SELECT c.id, c.customer_id, i.kind, i.name, c.team_id, tm.name, c.assignee_id,"
            " u.username, f.first_responder_id, c.status, c.topic, c.created_at,"
            " c.first_response_at, f.first_response_seconds, c.closed_at, f.resolution_seconds,"
            " f.reopen_count, s.rating, s.comment, c.updated_at"
            " FROM chats_conversation c JOIN chats_inbox i ON i.id = c.inbox_id"
            " LEFT JOIN accounts_team tm ON tm.id = c.team_id"
            " LEFT JOIN accounts_user u ON u.id = c.assignee_id"
            " LEFT JOIN analytics_conversationfact f ON f.conversation_id = c.id"
            " LEFT JOIN analytics_csatresponse s ON s.conversation_id = c.id"
            " WHERE c.deleted_at IS NULL ORDER BY c.updated_at, c.id) TO STDOUT WITH CSV"
        ) as copy,
    ):
        for chunk in copy:
            copied += bytes(chunk).count(b"\n")
    copy_s = time.perf_counter() - t
    figures["COPY TO STDOUT baseline, rows/s"] = (copied / copy_s,)
    print(
        f"COPY TO STDOUT baseline: {copied} rows in {copy_s:.1f} s = {copied / copy_s:,.0f}"
        f" rows/s; export / COPY = {(rows / elapsed) / (copied / copy_s):.2f}"
    )

    # The messages of the last 7 days (the history table partitioning is about): the export
    # path of `/api/v1/reports/messages.csv` with a period.
    ds = exports.DATASETS["messages"]
    query = exports.Query(start=now - timezone.timedelta(days=7), end=now)
    t = time.perf_counter()
    rows = (
        sum(
            1
            for _ in exports.csv_lines(ds.visible_columns(False), ds.rows(admin, query, pii=False))
        )
        - 1
    )
    elapsed = time.perf_counter() - t
    figures["CSV export (messages, 7 days), rows/s"] = (rows / elapsed,)
    print(
        f"CSV export of 7 days of messages: {rows} rows in {elapsed:.1f} s = {rows / elapsed:,.0f} rows/s"
    )
    return figures


def main() -> None:
    parser = common.parser(__doc__)
    parser.add_argument("--conversations", type=int, default=1_000_000)
    parser.add_argument("--messages-per", type=int, default=10)
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--requests", type=int, default=15)
    parser.add_argument("--skip-rebuild", action="store_true")
    args = parser.parse_args()
    if args.smoke:
        args.conversations, args.messages_per, args.calls = 2_000, 2, 500
        args.days, args.requests = 7, 3
    common.smoke_note(args.smoke)

    common.private_database("analytics")
    common.setup_django()
    common.collectstatic()  # production static storage
    from django.db import connection

    twin.to_plain()  # today's schema: one plain messages table
    print(_fill(args.conversations, args.messages_per, args.calls, args.days))
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM chats_conversation")
        n_conv = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM chats_message")
        n_msg = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM telephony_call")
        n_calls = cur.fetchone()[0]
    print(f"data: {n_conv} conversations, {n_msg} messages, {n_calls} calls")

    twin.vacuum_analyze()
    figures = {twin.PLAIN: _measure(args, f"{twin.PLAIN} (today's schema)")}
    took = twin.to_partitioned()
    print(
        f"\npartitioning migrations on this data: {took:.1f} s"
        f" ({twin.partition_count()} message partitions)"
    )
    twin.vacuum_analyze()
    figures[twin.PARTITIONED] = _measure(args, twin.PARTITIONED)
    twin.side_by_side(f"side by side, {n_msg:,} messages", figures, ("value",))


if __name__ == "__main__":
    main()
