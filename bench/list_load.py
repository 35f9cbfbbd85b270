"""wrk-style load on the REST conversation list and the inbox page, beside bare views, in one run.

    .venv/bin/python bench/list_load.py [--conversations 100000] [--messages 1000000]
                                        [--clients 20] [--duration 15] [--before]
                                        [--only TEXT] [--keep]
    .venv/bin/python bench/list_load.py --smoke     # seconds: proves it runs (CI)

The production shape on loopback: a real uvicorn serving the app with production settings
(DEBUG off, a secret key, PostgreSQL through `DATABASE_URL`, Redis through `REDIS_URL`), on a
database of its own (`bench_list_load_<pid>`, dropped at the end) and a redis-server the bench
starts on a free port (bench/common.py). The data is made in SQL in bulk: `--conversations`
conversations (15% open, 5% snoozed, 80% closed, 2% deleted) over 10 teams and 20 operators,
`--messages` messages among them.

`--clients` concurrent keep-alive clients (asyncio + httpx, in this process; the server is
another) each request one URL in a loop for `--duration` seconds after a short warm-up; every
URL in turn:

- `GET /api/v1/conversations/` (the REST list, first page of 50, newest first) and
  `GET /inbox/?view=…` (the inbox page: `all` for the admin, `team` for the operator), signed
  in with a session as the admin (scope all) and as an operator (scope teams, one team);
- the baseline: a bare Django view in the same server (bench/list_load_urls.py) returning the
  same page of rows by one raw SQL query, for the same scope.

Prints req/s, p50/p95/p99 latency and the server process's CPU per request for each URL,
and each product URL's throughput (target: within 3x) and CPU per request against its bare
view. The load generator shares the two cores with the server, so a bare view's req/s is
partly the generator's limit; its CPU per request is not. `--before` first measures without
the list-order indexes (migration chats.0007 applied backwards), then with them. Not a test:
it asserts nothing.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402

TEAMS = 10
OPERATORS = 20
PAGE_SIZE = 50


@dataclass
class Result:
    label: str
    url: str
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)
    server_cpu: float = 0.0  # seconds of the server process's CPU while counted

    @property
    def cpu_per_request(self) -> float:
        """Milliseconds of server CPU per answered request: what the request costs, whatever
        the load generator (in this process, on the same cores) manages to send."""
        return self.server_cpu / len(self.latencies) * 1000 if self.latencies else float("nan")

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def quantile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000


# --- data ---------------------------------------------------------------------------------


def _people() -> dict[str, object]:
    """Teams, inboxes, the admin and the operators, through the services."""
    from accounts.models import Role, Team
    from accounts.services import user_create
    from chats.models import Inbox

    teams = [Team.objects.create(name=f"Team {n}") for n in range(1, TEAMS + 1)]
    admin = user_create(
        username="bench-admin", password=None, role=Role.objects.get(slug=Role.ADMIN), actor=None
    )
    role = Role.objects.get(slug=Role.OPERATOR)
    operators = [
        user_create(
            username=f"op{n}", password=None, role=role, teams=[teams[n % TEAMS]], actor=None
        )
        for n in range(OPERATORS)
    ]
    inboxes = [
        Inbox.objects.create(name=f"Inbox {n}", kind=kind, default_team=teams[n])
        for n, kind in enumerate(["widget", "mobile", "api"])
    ]
    return {"admin": admin, "operator": operators[3], "teams": teams, "inboxes": inboxes,
            "operators": operators}  # fmt: skip


def _fill(people: dict[str, object], conversations: int, messages: int) -> None:
    """Customers, conversations and messages in three INSERT … SELECT statements. Columns not
    named get their model defaults from the database (common.column_defaults)."""
    from django.db import connection

    teams = [t.pk for t in people["teams"]]
    operators = [u.pk for u in people["operators"]]
    inboxes = [i.pk for i in people["inboxes"]]
    with connection.cursor() as c:
        c.execute(
            """
            INSERT INTO customers_customer (id, first_name, last_name, language)
            SELECT g, 'Customer' || g, 'Benchmark', 'ru' FROM generate_series(1, %s) g""",
            [conversations],
        )
        # 15% open, 5% snoozed (a fifth of them due), 80% closed; 1 in 7 unassigned; 2%
        # deleted; created over the last 100 days, oldest first. Team and assignee are drawn
        # by hash, independently of the status (g % 20): every team and operator has open,
        # snoozed and closed conversations.
        c.execute(
            """
            INSERT INTO chats_conversation (
                id, customer_id, inbox_id, team_id, assignee_id, assigned_at, status, priority,
                snoozed_until, snooze_until_reply, waiting_since, queued_at, first_response_at,
                last_message_at, last_message_preview, unread_count, closed_at, created_at,
                updated_at, deleted_at)
            SELECT g, g, (%(inboxes)s::bigint[])[1 + g %% 3],
                   (%(teams)s::bigint[])[1 + mod(hashint4(g)::bigint + 2147483648, 10)],
                   CASE WHEN mod(hashint4(g + 1000000)::bigint + 2147483648, 7) = 0 THEN NULL
                        ELSE (%(operators)s::bigint[])[
                            1 + mod(hashint4(g + 2000000)::bigint + 2147483648, %(n_operators)s)]
                   END,
                   CASE WHEN mod(hashint4(g + 1000000)::bigint + 2147483648, 7) = 0 THEN NULL
                        ELSE now() - interval '1 day' END,
                   CASE WHEN g %% 20 < 3 THEN 'open' WHEN g %% 20 = 3 THEN 'snoozed'
                        ELSE 'closed' END,
                   CASE WHEN g %% 50 = 0 THEN 2 WHEN g %% 10 = 0 THEN 1 ELSE 0 END,
                   CASE WHEN g %% 20 = 3 THEN now() + ((g %% 5) - 1) * interval '1 hour' END,
                   g %% 20 = 3,
                   CASE WHEN g %% 20 < 3 THEN now() - (g %% 600) * interval '1 second' END,
                   CASE WHEN g %% 20 < 3 THEN now() - (g %% 600) * interval '1 second' END,
                   now() - interval '1 day', now() - (g %% 86400) * interval '1 second',
                   'Where is my order number ' || g || '?', g %% 4,
                   CASE WHEN g %% 20 > 3 THEN now() - interval '1 hour' END,
                   now() - (%(n)s - g) * interval '86 seconds',
                   now() - (g %% 86400) * interval '1 second',
                   CASE WHEN g %% 50 = 7 THEN now() END
              FROM generate_series(1, %(n)s) g""",
            {
                "inboxes": inboxes,
                "teams": teams,
                "operators": operators,
                "n_operators": len(operators),
                "n": conversations,
            },
        )
        c.execute(
            """
            INSERT INTO chats_message (conversation_id, inbox_id, kind, author_id, body,
                                       delivery_status, created_at)
            SELECT 1 + g %% %(n)s, (%(inboxes)s::bigint[])[1 + (1 + g %% %(n)s) %% 3],
                   CASE WHEN g %% 3 = 0 THEN 'outbound' ELSE 'inbound' END,
                   CASE WHEN g %% 3 = 0 THEN (%(operators)s::bigint[])[1 + g %% %(n_operators)s]
                   END,
                   'Message ' || g || ': the courier, the order, the delivery status',
                   CASE WHEN g %% 3 = 0 THEN 'sent' ELSE '' END,
                   now() - (g %% 100000) * interval '1 second'
              FROM generate_series(1, %(messages)s) g""",
            {
                "n": conversations,
                "inboxes": inboxes,
                "operators": operators,
                "n_operators": len(operators),
                "messages": messages,
            },
        )
        for table in ("customers_customer", "chats_conversation"):
            c.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
    with connection.cursor() as c:
        c.execute("VACUUM ANALYZE customers_customer, chats_conversation, chats_message")


def _session_cookie(user: object) -> str:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


# --- load ---------------------------------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of process `pid` so far (/proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _load(
    base: str,
    result: Result,
    cookie: str | None,
    clients: int,
    duration: float,
    warmup: float,
    server_pid: int | None = None,
) -> None:
    """`clients` keep-alive clients request `result.url` back to back for `warmup` seconds
    (not counted), then for `duration` seconds."""
    import httpx

    cookies = {"sessionid": cookie} if cookie else None
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, cookies=cookies, timeout=60, limits=limits) as http:

        async def one_client(until: float, record: bool) -> None:
            while time.perf_counter() < until:
                began = time.perf_counter()
                try:
                    response = await http.get(result.url)
                    ok = response.status_code == 200
                    problem = f"HTTP {response.status_code}"
                except httpx.HTTPError as error:
                    ok, problem = False, type(error).__name__
                if not record:
                    continue
                if ok:
                    result.latencies.append(time.perf_counter() - began)
                else:
                    result.errors[problem] = result.errors.get(problem, 0) + 1

        until = time.perf_counter() + warmup
        await asyncio.gather(*(one_client(until, False) for _ in range(clients)))
        cpu = _cpu_seconds(server_pid) if server_pid else 0.0
        started = time.perf_counter()
        until = started + duration
        await asyncio.gather(*(one_client(until, True) for _ in range(clients)))
        result.seconds = time.perf_counter() - started
        if server_pid:
            result.server_cpu = _cpu_seconds(server_pid) - cpu


def _targets(people: dict[str, object]) -> list[tuple[str, str, str, str]]:
    """(label, URL, who, the label of its baseline); the baseline rows come first."""
    operator = people["operator"]
    scoped = f"?team_user={operator.pk}"
    return [
        ("bare REST page, scope all (baseline)", "/bench/bare/rest/", "", ""),
        ("REST list, admin (all)", "/api/v1/conversations/", "admin",
         "bare REST page, scope all (baseline)"),
        ("bare REST page, scope teams (baseline)", "/bench/bare/rest/" + scoped, "", ""),
        ("REST list, operator (teams)", "/api/v1/conversations/", "operator",
         "bare REST page, scope teams (baseline)"),
        ("bare inbox page, scope all (baseline)", "/bench/bare/inbox/", "", ""),
        ("inbox page ?view=all, admin", "/inbox/?view=all", "admin",
         "bare inbox page, scope all (baseline)"),
        ("bare inbox page, scope teams (baseline)", "/bench/bare/inbox/" + scoped, "", ""),
        ("inbox page ?view=team, operator", "/inbox/?view=team", "operator",
         "bare inbox page, scope teams (baseline)"),
    ]  # fmt: skip


def _measure(
    base: str,
    people: dict[str, object],
    cookies: dict[str, str],
    args: object,
    title: str,
    server_pid: int,
) -> None:
    results: dict[str, Result] = {}
    targets = [t for t in _targets(people) if args.only in t[0]]
    for label, url, who, _baseline in targets:
        result = Result(label, url)
        asyncio.run(
            _load(
                base, result, cookies.get(who), args.clients, args.duration, args.warmup, server_pid
            )
        )
        results[label] = result
    print(f"\n{title}: {args.clients} clients, {args.duration:g}s per URL; {_uptime()}")
    print(
        f"  {'URL':<42}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
        f"{'errors':>8}{'CPU ms':>8}  vs baseline: req/s, server CPU per request"
    )
    for label, _url, _who, baseline in targets:
        r = results[label]
        versus = ""
        if baseline in results:
            b = results[baseline]
            slower = b.rps / r.rps if r.rps else float("inf")
            costlier = r.cpu_per_request / b.cpu_per_request if b.cpu_per_request else float("inf")
            versus = (
                f"{slower:.2f}x slower ({'within' if slower <= 3 else 'OVER'} 3x), "
                f"{costlier:.2f}x the CPU"
            )
        errors = sum(r.errors.values())
        print(
            f"  {label:<42}{r.rps:>8.1f}{r.quantile(0.5):>9.1f}{r.quantile(0.95):>9.1f}"
            f"{r.quantile(0.99):>9.1f}{errors:>8}{r.cpu_per_request:>8.1f}  {versus}"
        )
        if r.errors:
            print(f"    errors: {r.errors}")
    print(
        "  CPU ms: the server process's CPU per answered request. The load generator shares "
        "the\n  cores: a baseline's req/s is partly its limit, its CPU per request is not."
    )


def _uptime() -> str:
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    return f"load average {' '.join(load)} on {os.cpu_count()} CPUs"


def _serve(port: int) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603 - our interpreter and uvicorn
        [
            sys.executable, "-m", "uvicorn", "bench.list_load_asgi:application",
            "--host", "127.0.0.1", "--port", str(port), "--lifespan", "off",
            "--log-level", "warning", "--no-access-log",
        ],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "bench.list_load_site",
             "PYTHONPATH": str(ROOT)},
    )  # fmt: skip


def main() -> None:
    parser = common.parser(__doc__)
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per URL")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds per URL, not counted")
    parser.add_argument(
        "--before", action="store_true", help="also measure without the list-order indexes"
    )
    parser.add_argument(
        "--only",
        default="",
        metavar="TEXT",
        help="only the URLs whose label contains TEXT, e.g. 'inbox' (a product URL and its "
        "baseline share a word)",
    )
    args = parser.parse_args()
    if args.smoke:
        args.conversations, args.messages, args.clients = 500, 2_000, 4
        args.duration, args.warmup, args.before = 0.5, 0.2, False
    common.smoke_note(args.smoke)

    with common.private_redis() as redis_url:
        common.production_env(
            REDIS_URL=redis_url, CHANNEL_LAYER_PREFIX="bench", CACHE_KEY_PREFIX="bench"
        )
        os.environ["DJANGO_SETTINGS_MODULE"] = "bench.list_load_site"
        db_url = common.private_database("list_load")
        common.setup_django()
        import logging

        logging.disable(logging.INFO)  # the eager tasks of the set-up log every operator
        common.collectstatic()
        started = time.perf_counter()
        people = _people()
        _fill(people, args.conversations, args.messages)
        print(
            f"database {db_url.rsplit('/', 1)[1]}: {args.conversations:,} conversations, "
            f"{args.messages:,} messages, {OPERATORS} operators in {TEAMS} teams, loaded in "
            f"{time.perf_counter() - started:.1f}s"
        )
        cookies = {who: _session_cookie(people[who]) for who in ("admin", "operator")}
        from django.db import connections

        connections.close_all()
        port = common.free_port()
        server = _serve(port)
        try:
            common.wait_for_port(port, process=server, timeout=60)
            base = f"http://127.0.0.1:{port}"
            if args.before:
                from django.core.management import call_command

                call_command("migrate", "chats", "0006", verbosity=0)
                _analyze()
                _measure(
                    base,
                    people,
                    cookies,
                    args,
                    "without the list-order indexes (before)",
                    server.pid,
                )
                call_command("migrate", "chats", verbosity=0)
                _analyze()
            _measure(base, people, cookies, args, "with the list-order indexes", server.pid)
        finally:
            server.terminate()
            server.wait(15)
            connections.close_all()


def _analyze() -> None:
    from django.db import connection

    with connection.cursor() as c:
        c.execute("ANALYZE chats_conversation")


if __name__ == "__main__":
    main()
