"""A real streaming replica: analytics and exports read it, writes never reach it, and its
lag is on /readyz (smartdesk/core/routers.py).

The shared PostgreSQL server is not ours to reconfigure (its replication settings and
pg_hba.conf belong to the machine), and a standby copies a whole cluster, so this test starts
two private clusters on free ports in a temporary directory: a primary (`initdb`, the
project migrated into it) and a standby made from it with `pg_basebackup -R` (streaming).
PostgreSQL refuses to run as root: as root, its commands run as the `postgres` user.

Proof that reads come from the replica, not assumed from the router: replay on the standby
is paused (`pg_wal_replay_pause()`), a second conversation is written on the primary, and the
reports API and an export then see the standby's state (one conversation) while the inbox and
a plain read see the primary's (two). The standby is read-only, so any write routed there
would have failed the request or the export; both succeed. Replay resumed, they agree again.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.system import harness

pytestmark = pytest.mark.system

PG_BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))


def _as_postgres(args: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


def _pg(tool: str, *args: str, timeout: float = 120) -> None:
    command = _as_postgres([str(Path(PG_BIN[-1]) / tool), *args])
    result = subprocess.run(  # noqa: S603 - our own argv
        command, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise AssertionError(f"{tool} failed: {result.stdout[-2000:]}\n{result.stderr[-2000:]}")


class Cluster:
    def __init__(self, root: Path, name: str) -> None:
        self.data = root / name
        self.port = harness.free_port()
        self.log = root / f"{name}.log"
        self.root = root

    def url(self, database: str = "smartdesk") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def options(self) -> str:
        return f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"

    def start(self) -> None:
        _pg(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", self.options(), "-w", "start"
        )

    def stop(self) -> None:
        if self.data.exists():
            subprocess.run(  # noqa: S603
                _as_postgres(
                    [
                        str(Path(PG_BIN[-1]) / "pg_ctl"),
                        "-D",
                        str(self.data),
                        "-m",
                        "immediate",
                        "stop",
                    ]
                ),
                capture_output=True,
                timeout=60,
                check=False,
            )

    def connect(self, database: str = "smartdesk") -> psycopg.Connection:
        url = self.url(database).replace("postgres://", "postgresql://")
        return psycopg.connect(url, autocommit=True)


@pytest.fixture(scope="module")
def clusters() -> Iterator[tuple[Cluster, Cluster]]:
    if not PG_BIN or (not shutil.which("runuser") and os.geteuid() == 0):
        pytest.skip("PostgreSQL server binaries (initdb, pg_basebackup) are not installed")
    root = Path(tempfile.mkdtemp(prefix="smartdesk-replica-"))
    if os.geteuid() == 0:
        shutil.chown(root, user="postgres", group="postgres")
    primary, standby = Cluster(root, "primary"), Cluster(root, "standby")
    try:
        _pg("initdb", "-D", str(primary.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        with open(primary.data / "postgresql.conf", "a") as conf:
            conf.write("wal_level = replica\nmax_wal_senders = 4\nhot_standby = on\n")
        primary.start()
        with primary.connect("postgres") as conn:
            conn.execute("CREATE DATABASE smartdesk")
        harness.manage(
            ["migrate", "--noinput", "-v", "0"], harness._django_env(primary.url(), ""), timeout=300
        )
        _pg(
            "pg_basebackup",
            "-h",
            "127.0.0.1",
            "-p",
            str(primary.port),
            "-U",
            "postgres",
            "-D",
            str(standby.data),
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",  # checkpoint now, not spread over checkpoint_timeout
        )
        standby.start()
        harness.wait_until(
            lambda: standby.connect().execute("SELECT pg_is_in_recovery()").fetchone()[0],
            60,
            "the standby to accept connections in recovery",
        )
        yield primary, standby
    finally:
        standby.stop()
        primary.stop()
        shutil.rmtree(root, ignore_errors=True)


PROBE = r"""
import json, time
from django.db import connections
from django.test import Client
from accounts.models import Role
from chats.models import Conversation
from analytics.exports import Query, export_job_create
from analytics.models import ExportJob
from smartdesk.core import routers
from tests import factories

out = {}
def replica_has(n):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with routers.replica_reads():
            if Conversation.objects.count() == n:
                return True
        time.sleep(0.1)
    return False

roles = factories.builtin_roles()
team = factories.make_team("Replica support")
admin = factories.make_user(username="replica-admin", role=roles[Role.ADMIN], teams=[team])
inbox = factories.make_inbox(name="Replica inbox", team=team)
factories.make_conversation(inbox=inbox)
out["caught_up"] = replica_has(1)
replica = connections["replica"]
with replica.cursor() as cursor:
    cursor.execute("SELECT pg_wal_replay_pause()")
factories.make_conversation(inbox=inbox)  # on the primary only, while replay is paused

client = Client(SERVER_NAME="localhost")
client.force_login(admin)
import datetime
today = datetime.date.today()
PERIOD = f"from={today - datetime.timedelta(days=1)}&to={today + datetime.timedelta(days=1)}"
reports = client.get(f"/api/v1/reports/conversations/?{PERIOD}")
out["reports_status"] = reports.status_code
out["reports_rows"] = len(reports.json()["results"])
out["primary_rows"] = Conversation.objects.count()
with routers.replica_reads():
    out["replica_rows"] = Conversation.objects.count()
job = export_job_create(
    user=admin, dataset="conversations", fmt="csv",
    query=Query(),
)
job.refresh_from_db()
out["export_status"] = job.status
out["export_rows"] = job.rows_total
out["export_error"] = job.error
ready = client.get("/readyz")
out["readyz"] = ready.json()
with replica.cursor() as cursor:
    cursor.execute("SELECT pg_wal_replay_resume()")
out["resumed_caught_up"] = replica_has(2)
after = client.get(f"/api/v1/reports/conversations/?{PERIOD}")
out["reports_rows_after"] = len(after.json()["results"])
print("PROBE" + json.dumps(out))
"""


def test_analytics_and_exports_read_the_replica_and_writes_stay_on_the_primary(clusters) -> None:
    primary, standby = clusters
    env = harness._django_env(primary.url(), "")
    env["DATABASE_REPLICA_URL"] = standby.url()
    output = harness.manage(["shell", "-c", PROBE], env, timeout=300)
    result = json.loads(output.split("PROBE", 1)[1])

    assert result["caught_up"] is True
    assert result["primary_rows"] == 2
    assert result["replica_rows"] == 1  # replay paused: the standby holds the first only
    assert (result["reports_status"], result["reports_rows"]) == (200, 1)
    assert result["export_status"] == "done", result["export_error"]
    assert result["export_rows"] == 1
    replica = result["readyz"]["replica"]
    assert result["readyz"]["status"] == "ok"
    assert replica["configured"] is True
    assert replica["status"] == "ok"
    assert replica["replay_paused"] is True
    assert replica["lag_seconds"] > 0
    assert result["resumed_caught_up"] is True
    assert result["reports_rows_after"] == 2

    # The standby refuses writes: nothing could have been written there unnoticed.
    with standby.connect() as conn, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        conn.execute("CREATE TABLE written_on_the_replica (id int)")
