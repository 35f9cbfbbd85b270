"""Automatic distribution: claims per second and time to assignment with 1, 2 and 4 worker
processes, against the same claim done by one raw SQL statement per assignment, in the same run.

    .venv/bin/python bench/assignment.py
    .venv/bin/python bench/assignment.py --quick        # 30 operators, 500 conversations
    .venv/bin/python bench/assignment.py --smoke        # seconds: proves it runs (CI)
    .venv/bin/python bench/assignment.py --operators 300 --conversations 10000 --workers 1,2,4

Builds its own PostgreSQL database (`bench_assignment_<pid>` on the server of `DATABASE_URL`,
dropped at the end; bench/common.py), and creates the operators (online, in 5 teams, capacities summing well above the number of
conversations, so that everything can be placed) through the services. Before every run it
truncates the conversations and inserts the waiting ones in SQL: 2% urgent, 10% high, the
rest normal; 10% weigh 2 (a heavier channel); queued at random times over the last hour.

Each run forks N processes that wait on a barrier and then, all at once, either call
`chats.services.distribution.distribute_queue()` (the product: ORM, audit event, live event,
commit-order stamp) or loop over one raw SQL statement that makes the same claim (same queue
order, same eligibility and choice: lowest load ratio, then oldest `last_assigned_at`; the
operator's row charged by a conditional UPDATE; an ASSIGNED audit event; no live event).

Printed per run:
  * assignments/s: assignments / (last worker done - first worker started);
  * arrival→assignment p50/p99: when the conversation was really claimed (the `at` of its
    ASSIGNED audit event, written inside the claim's transaction) minus its `queued_at`.
    Everything arrived before the run, so this is mostly the hour of queueing set up;
  * claim latency p50/p99: that same claim time minus the run's start (the barrier release):
    how long into the burst the conversation got its operator;
  * stored arrival→assignment p50/p99: `assigned_at - queued_at` as stored on the
    conversation (what the product reports, and feeds the time-to-assignment metric);
  * whether the invariants hold afterwards: no load above capacity, every load equal to a
    recount of its open conversations, one audit event per assigned conversation, the
    workers' counts adding up, nothing left waiting.

Not a test: it asserts nothing about speed, it prints.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common

common.production_env()
# In-memory channel layer and cache, eager Celery: live events are still written and stamped
# in the database at commit, but nothing leaves the process.
os.environ.pop("REDIS_URL", None)
os.environ.pop("CELERY_BROKER_URL", None)
# The workers are forked: a connection pool inherited across fork would share its sockets.
os.environ["DB_POOL_MAX_SIZE"] = "0"

TEAMS = 5


# --- data ---------------------------------------------------------------------------------------


def _setup_people(operators: int) -> None:
    """Teams, inboxes, operators (through the services) and the customers, once."""
    from accounts.models import Role, Team
    from accounts.services import user_create
    from chats.models import Inbox

    teams = [Team.objects.create(name=f"Team {n}") for n in range(1, TEAMS + 1)]
    role = Role.objects.get(slug=Role.OPERATOR)
    for n in range(operators):
        user_create(
            username=f"op{n}", password=None, role=role, teams=[teams[n % TEAMS]], actor=None
        )
    for n, team in enumerate(teams, start=1):
        Inbox.objects.create(name=f"Inbox {n}", kind="widget", default_team=team)


def _reset(conversations: int) -> None:
    """Everyone online with nothing on them; `conversations` waiting in the team queues."""
    from django.db import connection

    with connection.cursor() as c:
        c.execute(
            "TRUNCATE chats_conversationevent, smartdesk_liveevent, chats_conversation, "
            "customers_customer RESTART IDENTITY CASCADE"
        )
        c.execute(
            """
            INSERT INTO customers_customer (first_name, last_name, language, created_at, updated_at)
            SELECT 'Customer ' || g, 'Bench', 'ru', now(), now() FROM generate_series(1, %s) g""",
            [conversations],
        )
        # Capacity 35..50 (42.5 on average): every team has room for all of its queue, with
        # about a sixth to spare. A third never had a conversation; the others some time ago.
        c.execute(
            """
            UPDATE accounts_operatorprofile p
               SET capacity = 35 + (p.user_id * 7) % 16,
                   max_concurrent_conversations = 35 + (p.user_id * 7) % 16,
                   load = 0, overload = 0, presence = 'online', last_seen_at = now(),
                   last_assigned_at = CASE WHEN p.user_id % 3 = 0 THEN NULL
                                           ELSE now() - (p.user_id * 97 % 3600) * interval '1 second'
                                      END
            """
        )
        # Independent pseudo-random draws per row from hashint4 (no correlation with the team).
        c.execute(
            """
            WITH i AS (SELECT array_agg(id ORDER BY id) AS ids,
                              array_agg(default_team_id ORDER BY id) AS teams FROM chats_inbox),
                 r AS (SELECT g,
                              mod(hashint4(g)::bigint + 2147483648, 100) AS pri,
                              mod(hashint4(g + 1000000)::bigint + 2147483648, 10) AS heavy,
                              now() - mod(hashint4(g + 2000000)::bigint + 2147483648, 3600000)
                                      * interval '1 millisecond' AS at
                         FROM generate_series(1, %s) g)
            INSERT INTO chats_conversation (
                customer_id, inbox_id, team_id, assignee_id, status, priority, topic,
                snoozed_until, snooze_until_reply, snooze_reason, waiting_since,
                first_response_at, last_message_at, last_message_preview, unread_count,
                closed_at, load_weight, required_skill_id, queued_at, assigned_at,
                created_at, updated_at, deleted_at, deleted_by_id)
            SELECT r.g, i.ids[1 + r.g %% %s], i.teams[1 + r.g %% %s], NULL, 'open',
                   CASE WHEN r.pri < 2 THEN 2 WHEN r.pri < 12 THEN 1 ELSE 0 END,
                   '', NULL, false, '', r.at, NULL, r.at, 'Where is my order?', 1, NULL,
                   CASE WHEN r.heavy = 0 THEN 2 ELSE 1 END, NULL, r.at, NULL,
                   r.at, r.at, NULL, NULL
              FROM r, i
            """,
            [conversations, TEAMS, TEAMS],
        )
    with connection.cursor() as c:  # autocommit: VACUUM may run
        c.execute("VACUUM ANALYZE accounts_operatorprofile, chats_conversation")


def _capacity_summary() -> str:
    from django.db import connection

    with connection.cursor() as c:
        c.execute(
            """
            SELECT t.team_id, sum(p.capacity), (
                   SELECT coalesce(sum(load_weight), 0) FROM chats_conversation
                    WHERE team_id = t.team_id)
              FROM accounts_operatorprofile p
              JOIN accounts_operatorprofile_teams t ON t.operatorprofile_id = p.id
             GROUP BY t.team_id ORDER BY t.team_id"""
        )
        rows = c.fetchall()
    capacity = sum(r[1] for r in rows)
    weight = sum(r[2] for r in rows)
    tightest = min(r[1] / r[2] for r in rows if r[2])
    return (
        f"total capacity {capacity:,} for a total weight of {weight:,} "
        f"(tightest team: capacity {tightest:.2f}x its queue's weight)"
    )


# --- the baseline: one raw SQL statement per claim ---------------------------------------------

# The same claim as `distribute_queue` + `_place`: the head of the queue (priority, then
# queued_at, then id; skipping rows another worker holds and the (team, weight, skill) groups
# found hopeless), the best eligible operator (online, active, role not archived, in the team,
# with the skill, with room; lowest load ratio, then oldest last assignment, then user id),
# charged by a conditional UPDATE that waits for the operator's row and re-checks the room, the
# conversation assigned and the ASSIGNED audit event written. Returns (conversation, operator);
# the operator is NULL when the claim found nobody with room.
CLAIM_SQL = """
WITH c AS (
    SELECT c.id, c.team_id, c.load_weight, c.required_skill_id
      FROM chats_conversation c
     WHERE c.status = 'open' AND c.assignee_id IS NULL AND c.deleted_at IS NULL
       AND c.team_id = ANY(%(teams)s)
       AND NOT EXISTS (
           SELECT 1 FROM unnest(%(h_team)s::bigint[], %(h_weight)s::int[], %(h_skill)s::bigint[])
                         AS h(team, weight, skill)
            WHERE h.team = c.team_id AND c.load_weight >= h.weight
              AND (h.skill = 0 OR c.required_skill_id = h.skill))
     ORDER BY c.priority DESC, c.queued_at ASC NULLS FIRST, c.id
     LIMIT 1
       FOR UPDATE OF c SKIP LOCKED
), o AS (
    UPDATE accounts_operatorprofile p
       SET load = p.load + c.load_weight, last_assigned_at = clock_timestamp()
      FROM c
     WHERE p.load + c.load_weight <= p.capacity AND p.presence = 'online'
       AND p.id = (
           SELECT b.id
             FROM accounts_operatorprofile b
             JOIN accounts_user u ON u.id = b.user_id AND u.is_active
             JOIN accounts_role r ON r.id = b.role_id AND r.archived_at IS NULL
             JOIN accounts_operatorprofile_teams bt
                  ON bt.operatorprofile_id = b.id AND bt.team_id = c.team_id
            WHERE b.presence = 'online' AND b.load + c.load_weight <= b.capacity
              AND (c.required_skill_id IS NULL OR EXISTS (
                   SELECT 1 FROM accounts_operatorprofile_skills bs
                    WHERE bs.operatorprofile_id = b.id AND bs.skill_id = c.required_skill_id))
            ORDER BY b.load::float8 / NULLIF(b.capacity, 0), b.last_assigned_at ASC NULLS FIRST,
                     b.user_id
            LIMIT 1)
    RETURNING p.user_id
), a AS (
    UPDATE chats_conversation x
       SET assignee_id = o.user_id, assigned_at = clock_timestamp(), updated_at = clock_timestamp()
      FROM c, o
     WHERE x.id = c.id
    RETURNING x.id, x.assignee_id, x.assigned_at
), e AS (
    INSERT INTO chats_conversationevent (conversation_id, type, actor_id, at, data)
    SELECT a.id, 'assigned', NULL, a.assigned_at,
           jsonb_build_object('from_user', NULL, 'to_user', a.assignee_id, 'auto', true)
      FROM a
)
SELECT (SELECT id FROM c), (SELECT assignee_id FROM a), (SELECT team_id FROM c),
       (SELECT load_weight FROM c), (SELECT required_skill_id FROM c)
"""

# Whether anybody eligible has room for this conversation now (without waiting for locks).
ROOM_SQL = """
SELECT EXISTS (
    SELECT 1 FROM accounts_operatorprofile b
      JOIN accounts_user u ON u.id = b.user_id AND u.is_active
      JOIN accounts_role r ON r.id = b.role_id AND r.archived_at IS NULL
      JOIN accounts_operatorprofile_teams bt ON bt.operatorprofile_id = b.id AND bt.team_id = %s
     WHERE b.presence = 'online' AND b.load + %s <= b.capacity
       AND (%s::bigint IS NULL OR EXISTS (
            SELECT 1 FROM accounts_operatorprofile_skills bs
             WHERE bs.operatorprofile_id = b.id AND bs.skill_id = %s)))
"""


def raw_distribute_queue() -> int:
    """`distribute_queue` as a loop over CLAIM_SQL, each statement its own transaction."""
    from django.db import connection

    from accounts.models import Team

    teams = list(Team.objects.filter(auto_assign=True).values_list("pk", flat=True))
    hopeless: list[tuple[int, int, int]] = []
    placed = 0
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                CLAIM_SQL,
                {
                    "teams": teams,
                    "h_team": [h[0] for h in hopeless],
                    "h_weight": [h[1] for h in hopeless],
                    "h_skill": [h[2] for h in hopeless],
                },
            )
            conversation, operator, team, weight, skill = cursor.fetchone()
            if conversation is None:
                return placed
            if operator is not None:
                placed += 1
                continue
            # The best operator filled up under us: try again, unless nobody has room left.
            cursor.execute(ROOM_SQL, [team, weight, skill, skill])
            if not cursor.fetchone()[0]:
                hopeless.append((team, weight, skill or 0))


# --- a run --------------------------------------------------------------------------------------


def _worker(mode: str, index: int, start: Any, results: Any) -> None:
    from django.db import connections

    placed, began, ended, error = 0, 0.0, 0.0, ""
    try:
        connections.close_all()  # nothing inherited from the parent
        connections["default"].ensure_connection()
        if mode == "django":
            from chats.services.distribution import distribute_queue as claim
        else:
            claim = raw_distribute_queue
        start.wait()
        began = time.time()
        placed = claim()
        ended = time.time()
    except BaseException:
        error = traceback.format_exc()[-4000:]
    finally:
        connections.close_all()
        results.put((index, placed, began, ended, error))


def _run(mode: str, workers: int) -> dict[str, Any]:
    from django.db import connections

    context = multiprocessing.get_context("fork")
    start = context.Barrier(workers, timeout=120)
    results = context.SimpleQueue()
    connections.close_all()
    processes = [
        context.Process(target=_worker, args=(mode, n, start, results)) for n in range(workers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    reports = [results.get() for _ in processes]
    for index, _placed, _began, _ended, error in reports:
        if error:
            raise RuntimeError(f"{mode} worker {index} failed:\n{error}")
    began = min(r[2] for r in reports)
    ended = max(r[3] for r in reports)
    counts = sorted(r[1] for r in reports)
    return {"began": began, "seconds": ended - began, "counts": counts, **_figures(began)}


def _figures(began: float) -> dict[str, Any]:
    """Latencies from the database, and the invariants."""
    from django.db import connection

    start = datetime.fromtimestamp(began, tz=UTC)
    with connection.cursor() as c:
        c.execute(
            """
            WITH s AS (
                SELECT extract(epoch FROM e.at - x.queued_at) AS arrival,
                       extract(epoch FROM e.at - %s) AS claim,
                       extract(epoch FROM x.assigned_at - x.queued_at) AS stored
                  FROM chats_conversation x
                  JOIN chats_conversationevent e
                       ON e.conversation_id = x.id AND e.type = 'assigned'
                 WHERE x.assignee_id IS NOT NULL)
            SELECT count(*),
                   percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY arrival),
                   percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY claim),
                   percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY stored)
              FROM s""",
            [start],
        )
        joined, arrival, claim, stored = c.fetchone()
        c.execute(
            """
            SELECT
              (SELECT count(*) FROM chats_conversation WHERE assignee_id IS NOT NULL),
              (SELECT count(*) FROM chats_conversation
                WHERE status = 'open' AND assignee_id IS NULL AND deleted_at IS NULL),
              (SELECT count(*) FROM chats_conversationevent WHERE type = 'assigned'),
              (SELECT count(DISTINCT conversation_id) FROM chats_conversationevent
                WHERE type = 'assigned'),
              (SELECT count(*) FROM accounts_operatorprofile WHERE load > capacity),
              (SELECT count(*) FROM accounts_operatorprofile p
                WHERE p.load <> (SELECT coalesce(sum(load_weight), 0) FROM chats_conversation x
                                  WHERE x.assignee_id = p.user_id AND x.status = 'open'
                                    AND x.deleted_at IS NULL)),
              (SELECT count(DISTINCT assignee_id) FROM chats_conversation)"""
        )
        assigned, waiting, events, distinct, over, off, operators_used = c.fetchone()
    return {
        "assigned": assigned,
        "waiting": waiting,
        "arrival": arrival,
        "claim": claim,
        "stored": stored,
        "problems": [
            text
            for bad, text in (
                (over, f"{over} operators over capacity"),
                (off, f"{off} loads differ from the recount"),
                (events != assigned or distinct != assigned, f"{events} events/{assigned}"),
                (joined != assigned, f"{joined} joined/{assigned}"),
            )
            if bad
        ],
        "operators_used": operators_used,
    }


def _check(result: dict[str, Any], conversations: int) -> str:
    problems = list(result["problems"])
    if sum(result["counts"]) != result["assigned"]:
        problems.append(f"workers counted {sum(result['counts'])}, assigned {result['assigned']}")
    if result["assigned"] + result["waiting"] != conversations:
        problems.append("conversations lost")
    if result["waiting"]:
        problems.append(f"{result['waiting']} left waiting")
    return "ok" if not problems else "FAILED: " + "; ".join(problems)


def main() -> None:
    parser = common.parser(__doc__)
    parser.add_argument("--operators", type=int, default=300)
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--workers", default="1,2,4", help="comma-separated process counts")
    parser.add_argument("--quick", action="store_true", help="30 operators, 500 conversations")
    args = parser.parse_args()
    if args.quick:
        args.operators, args.conversations = 30, 500
    if args.smoke:
        args.operators, args.conversations, args.workers = 10, 60, "1"
    common.smoke_note(args.smoke)
    worker_counts = [int(n) for n in args.workers.split(",")]

    db_url = common.private_database("assignment")
    common.setup_django()
    logging.disable(logging.INFO)  # the eager Celery tasks of the set-up log every run
    started = time.perf_counter()
    _setup_people(args.operators)
    print(
        f"database {db_url.rsplit('/', 1)[1]}: {args.operators} operators in {TEAMS} teams "
        f"created in {time.perf_counter() - started:.1f}s; {os.cpu_count()} CPUs"
    )
    _reset(args.conversations)
    print(f"{args.conversations:,} waiting conversations per run; {_capacity_summary()}")

    rows = []
    for workers in worker_counts:
        for mode, label in (("django", "distribute_queue()"), ("raw", "raw SQL loop")):
            _reset(args.conversations)
            result = _run(mode, workers)
            result.update(mode=mode, label=label, workers=workers)
            result["check"] = _check(result, args.conversations)
            rows.append(result)
            print(
                f"  {label:<19} x{workers}: {result['assigned']:>6,} assigned in "
                f"{result['seconds']:6.2f}s by {result['counts']}, "
                f"{result['operators_used']} operators; invariants {result['check']}",
                flush=True,
            )

    def pair(values: list[float] | None) -> str:
        if not values:
            return f"{'-':>9}{'-':>9}"
        return f"{values[0]:>9.1f}{values[1]:>9.1f}"

    print(
        f"\n{args.conversations:,} waiting conversations, {args.operators} operators; "
        "times in seconds (arrival→assignment: claim time - queued_at;\n"
        "claim latency: claim time - run start; stored: assigned_at - queued_at as stored)"
    )
    print(
        f"  {'':<19}{'procs':>6}{'assign/s':>10}{'ratio':>7}  "
        f"{'arrival→assignment':>18}{'claim latency':>18}{'stored arr→assign':>18}  invariants"
    )
    print(f"  {'':<44}{'p50':>9}{'p99':>9}{'p50':>9}{'p99':>9}{'p50':>9}{'p99':>9}")
    baseline = {r["workers"]: r for r in rows if r["mode"] == "raw"}
    for r in rows:
        rate = r["assigned"] / r["seconds"] if r["seconds"] else 0.0
        base = baseline[r["workers"]]
        base_rate = base["assigned"] / base["seconds"] if base["seconds"] else 0.0
        ratio = f"{rate / base_rate:.2f}" if base_rate else "-"
        print(
            f"  {r['label']:<19}{r['workers']:>6}{rate:>10.0f}{ratio:>7}  "
            f"{pair(r['arrival'])}{pair(r['claim'])}{pair(r['stored'])}  {r['check']}"
        )
    print("  ratio: assignments/s against the baseline, the raw SQL loop, with as many processes")


if __name__ == "__main__":
    main()
