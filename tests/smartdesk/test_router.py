"""The read-replica router against a second database alias.

Why a second alias and not a streaming standby here: the suite's database lives on the
shared PostgreSQL server, whose test database a standby cannot follow alone (a standby copies
a whole cluster). `tests/system/test_replica.py` runs the real thing: a private primary and a
`pg_basebackup` standby. Here the `replica` alias is a second connection to the test database
whose sessions are read-only (`default_transaction_read_only`): a write routed there fails,
and every query it runs is captured, so "read from the replica" and "never written" are both
observed, not assumed.
"""

from __future__ import annotations

import copy

import pytest
from django.db import connections
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from analytics.models import ExportJob
from chats.models import Message
from smartdesk.core import routers
from tests import factories

ROUTER = routers.PrimaryReplicaRouter()


@pytest.fixture
def replica(transactional_db, settings):
    config = copy.deepcopy(connections["default"].settings_dict)
    options = config.setdefault("OPTIONS", {})
    options.pop("pool", None)
    options["options"] = "-c default_transaction_read_only=on"
    config["TEST"] = {**config.get("TEST", {}), "MIRROR": "default"}
    settings.DATABASES = {**settings.DATABASES, "replica": config}
    config["CONN_MAX_AGE"] = None  # kept open across requests (see below)
    config["CONN_HEALTH_CHECKS"] = False
    connections.settings["replica"] = config
    # The test case only lets its declared aliases open a connection lazily; this one is
    # opened here, once, and stays open for the test.
    connections["replica"].connect()
    routers.forget_replica_status()
    try:
        yield connections["replica"]
    finally:
        routers.forget_replica_status()
        connections["replica"].close()
        del connections["replica"]
        del connections.settings["replica"]


@pytest.fixture
def dead_replica(db, settings):
    """A `replica` alias built as settings build it (`routers.replica_database`), pointing at
    a port nothing listens on: the replica is down."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again when the block ends
    default = copy.deepcopy(connections["default"].settings_dict)
    # As in production (the suite's primary runs without one): the primary has a pool.
    default["OPTIONS"]["pool"] = {"min_size": 1, "max_size": 10, "timeout": 10.0}
    config = routers.replica_database({**copy.deepcopy(default), "PORT": port}, default)
    settings.DATABASES = {**settings.DATABASES, "replica": config}
    connections.settings["replica"] = config
    wrapper = connections["replica"]

    def ensure_connection() -> None:
        # The test case refuses lazy connections to aliases it did not declare (this one is
        # added during the test); connect as Django does, so the failure is the real one.
        if wrapper.connection is None:
            with wrapper.wrap_database_errors:
                wrapper.connect()

    wrapper.ensure_connection = ensure_connection
    routers.forget_replica_status()
    try:
        yield config
    finally:
        routers.forget_replica_status()
        connections["replica"].close()
        if "pool" in config["OPTIONS"]:
            connections["replica"].close_pool()
        del connections["replica"]
        del connections.settings["replica"]


def test_a_replica_that_is_down_neither_fails_readiness_nor_the_reports(
    dead_replica, admin_user, support_inbox
) -> None:
    import time

    assert "pool" not in dead_replica["OPTIONS"]
    factories.make_conversation(inbox=support_inbox)
    client = Client()
    started = time.monotonic()
    ready = client.get("/readyz")
    took = time.monotonic() - started
    assert ready.status_code == 200
    assert ready.json()["replica"]["status"].startswith("error")
    assert took < 3  # the readiness probe's own timeout; a pool would wait 10 s here

    client.force_login(admin_user)
    kpis = client.get("/api/v1/reports/kpis/?from=2026-01-01&to=2026-12-31")
    dataset = client.get("/api/v1/reports/conversations/?from=2026-01-01&to=2027-01-01")
    dashboard = client.get("/statistics/")
    assert (kpis.status_code, dataset.status_code, dashboard.status_code) == (200, 200, 200)
    assert len(dataset.json()["results"]) == 1  # answered from the primary
    assert routers.replica_usable() is False  # the next scopes skip it for a while


def _tables(queries: CaptureQueriesContext) -> str:
    return " ".join(query["sql"] for query in queries.captured_queries)


def test_without_a_replica_the_router_has_no_opinion(settings) -> None:
    settings.DATABASES = {"default": settings.DATABASES["default"]}
    with routers.replica_reads():
        assert ROUTER.db_for_read(Message) is None
        assert ROUTER.db_for_write(Message) is None


def test_only_scoped_reads_of_allowed_models_go_to_the_replica(settings) -> None:
    settings.DATABASES = {**settings.DATABASES, "replica": {}}
    assert ROUTER.db_for_read(Message) == "default"
    with routers.replica_reads():
        assert ROUTER.db_for_read(Message) == "replica"
        assert ROUTER.db_for_read(User) == "default"  # rights are never read late
        assert ROUTER.db_for_read(ExportJob) == "default"  # the task claims and updates it
        assert ROUTER.db_for_write(Message) == "default"
    assert ROUTER.allow_migrate("replica", "chats") is False
    assert ROUTER.allow_migrate("default", "chats") is True


def test_statistics_and_reports_read_the_replica(replica, admin_user, support_inbox) -> None:
    factories.make_conversation(inbox=support_inbox)
    client = Client()
    client.force_login(admin_user)
    with CaptureQueriesContext(replica) as on_replica:
        dashboard = client.get("/statistics/")
        kpis = client.get("/api/v1/reports/kpis/?from=2026-01-01&to=2026-12-31")
        dataset = client.get("/api/v1/reports/conversations/?from=2026-01-01&to=2027-01-01")
    assert (dashboard.status_code, kpis.status_code, dataset.status_code) == (200, 200, 200)
    assert "chats_conversation" in _tables(on_replica)
    # Rights and sign-ins come from the primary (a row may still join a user's name).
    assert 'FROM "accounts_user"' not in _tables(on_replica)
    assert 'FROM "accounts_role"' not in _tables(on_replica)
    assert "django_session" not in _tables(on_replica)

    with CaptureQueriesContext(replica) as elsewhere:
        assert client.get("/inbox/").status_code == 200
    assert elsewhere.captured_queries == []


def test_an_export_reads_the_replica_and_writes_the_primary(
    replica, admin_user, support_inbox
) -> None:
    from rest_framework.test import APIClient

    factories.make_conversation(inbox=support_inbox)
    client = APIClient()
    client.force_authenticate(admin_user)
    with CaptureQueriesContext(replica) as on_replica:
        started = client.post(
            "/api/v1/reports/exports/?from=2026-01-01&to=2027-01-01",
            {"dataset": "conversations", "format": "csv"},
        )
    assert started.status_code == 202
    job = ExportJob.objects.get(pk=started.json()["id"])
    assert job.status == ExportJob.Status.DONE, job.error  # its writes succeeded: the primary
    assert job.rows_total == 1
    sql = _tables(on_replica)
    assert "chats_conversation" in sql
    assert "analytics_exportjob" not in sql
    assert not any(
        query["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
        for query in on_replica.captured_queries
    )


def test_readyz_reports_the_replica(replica, client) -> None:
    body = client.get("/readyz").json()
    # The alias is not a standby here; the real lag is in tests/system/test_replica.py.
    assert body["status"] == "ok"  # a replica's trouble does not take operators' pages down
    assert body["replica"]["configured"] is True
    assert body["replica"]["status"] == "error: not a standby"


def test_readyz_without_a_replica(client, db) -> None:
    assert client.get("/readyz").json()["replica"] == {"configured": False}
