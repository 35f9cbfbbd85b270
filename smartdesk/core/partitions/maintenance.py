"""The periodic maintenance: partitions created ahead of time, old ones dropped (retention)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from django.db import OperationalError, connections, transaction
from psycopg import errors, sql

from smartdesk.core.partitions.introspection import _ranged, is_partitioned
from smartdesk.core.partitions.schemes import (
    SCHEMES,
    Scheme,
    _bound,
    _next,
    _start,
    default_name,
    partition_name,
)

log = logging.getLogger("smartdesk.core.partitions")


# ATTACH/DETACH wait for conflicting locks (a long report holding the default partition); past
# this they give up, log, and the next hourly run tries again, rather than queueing every
# insert and read of the table behind them.
LOCK_TIMEOUT = "2s"


def _create_partition(cursor, scheme: Scheme, start: date) -> str:
    """Create the partition for [start, next): rows the default partition holds for that range
    move into it in the same transaction (attaching over them would fail)."""
    name = partition_name(scheme, start)
    table, key = sql.Identifier(scheme.table), sql.Identifier(scheme.key)
    low, high = _bound(start), _bound(_next(scheme, start))
    cursor.execute(
        sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)").format(
            sql.Identifier(name), table
        )
    )
    cursor.execute(
        sql.SQL(
            "WITH moved AS (DELETE FROM {default} WHERE {key} >= %s AND {key} < %s RETURNING *) "
            "INSERT INTO {part} SELECT * FROM moved"
        ).format(default=sql.Identifier(default_name(scheme)), key=key, part=sql.Identifier(name)),
        [low, high],
    )
    if cursor.rowcount and scheme.after_move:
        cursor.execute(sql.SQL(scheme.after_move).format(part=sql.Identifier(name)))
    # The bounds as literals: a utility statement takes no bound parameters (they are bound on
    # the server, settings.DB_PREPARED_STATEMENTS).
    cursor.execute(
        sql.SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES FROM ({}) TO ({})").format(
            table, sql.Identifier(name), sql.Literal(low), sql.Literal(high)
        )
    )
    return name


def _set_lock_timeout(cursor) -> None:
    # Transaction-local (SET LOCAL); when the caller's transaction goes on (a test, a migration),
    # _reset_lock_timeout puts the session's value back.
    cursor.execute("SELECT set_config('lock_timeout', %s, true)", [LOCK_TIMEOUT])


def _reset_lock_timeout(cursor) -> None:
    cursor.execute(
        "SELECT set_config('lock_timeout', reset_val, true) FROM pg_settings "
        "WHERE name = 'lock_timeout'"
    )


def _locked_run(
    scheme: Scheme, work: Callable[[Any], list[str]], *, doing: str, using: str
) -> list[str]:
    """Run `work(cursor)` in one transaction that holds the table's maintenance lock and a
    short lock timeout; its result, or [] on a plain table, on a database other than
    PostgreSQL, or when a table lock was not granted in time (logged; the next run retries)."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return []
    try:
        with transaction.atomic(using=using), connection.cursor() as cursor:
            if not is_partitioned(cursor, scheme.table):
                return []
            # One maintainer at a time (two beats, a manual run): the second waits, then
            # finds the work done.
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))", [f"partitions:{scheme.table}"]
            )
            _set_lock_timeout(cursor)
            done = work(cursor)
            _reset_lock_timeout(cursor)
    except OperationalError as exc:
        if not isinstance(exc.__cause__, errors.LockNotAvailable):
            raise
        log.warning(
            "%s of %s: lock not granted within %s, next run retries",
            doing,
            scheme.table,
            LOCK_TIMEOUT,
        )
        return []
    return done


def ensure_partitions(
    scheme: Scheme, *, now: datetime | None = None, using: str = "default"
) -> list[str]:
    """Create every missing partition from the current interval to `ahead` intervals on.
    Idempotent; a no-op on a plain table or a database other than PostgreSQL."""
    now = now or datetime.now(UTC)

    def create(cursor: Any) -> list[str]:
        created = []
        existing = _ranged(cursor, scheme)
        start = _start(scheme, now)
        for _ in range(scheme.ahead + 1):
            if start not in existing:
                created.append(_create_partition(cursor, scheme, start))
            start = _next(scheme, start)
        return created

    created = _locked_run(scheme, create, doing="partitions", using=using)
    if created:
        log.info("partitions created: %s", ", ".join(created))
    return created


def drop_partitions_before(
    scheme: Scheme, cutoff: datetime, *, using: str = "default"
) -> list[str]:
    """Drop the partitions whose whole range ends at or before `cutoff` (retention). Rows in
    the partition that straddles the cutoff are the caller's to delete."""

    def drop(cursor: Any) -> list[str]:
        dropped = []
        for start, name in sorted(_ranged(cursor, scheme).items()):
            end = datetime.combine(_next(scheme, start), datetime.min.time(), tzinfo=UTC)
            if end > cutoff:
                break
            # DETACH first: the parent's lock is brief, the drop then touches only the child.
            cursor.execute(
                sql.SQL("ALTER TABLE {} DETACH PARTITION {}").format(
                    sql.Identifier(scheme.table), sql.Identifier(name)
                )
            )
            cursor.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(name)))
            dropped.append(name)
        return dropped

    dropped = _locked_run(scheme, drop, doing="dropping partitions", using=using)
    if dropped:
        log.info("partitions dropped: %s", ", ".join(dropped))
    return dropped


def maintain(*, now: datetime | None = None, using: str = "default") -> dict[str, list[str]]:
    """The periodic job's body: partitions ahead for every partitioned table."""
    return {scheme.table: ensure_partitions(scheme, now=now, using=using) for scheme in SCHEMES}
