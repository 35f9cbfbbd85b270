"""Range partitions by time for the tables that grow without bound (docs/partitions.md).

PostgreSQL only: `chats_message` is partitioned by month of `created_at`, `smartdesk_liveevent`
by day (its retention is hours, so whole days can be dropped instead of deleted row by row).
SQLite (`make run`) keeps plain tables and every function here does nothing there.

Each partitioned table has a DEFAULT partition, so an insert never fails for want of a
partition (a row dated far back, a beat that did not run for weeks); `maintain()` keeps it
empty by creating partitions ahead of time and moving into a new partition any rows the
default had taken for its range.

The conversion functions are used by the migrations (`chats` 0009, `smartdesk` 0003): they
rebuild a table as partitioned (or back as plain) with the same columns, defaults, identity,
CHECK and NOT NULL constraints, indexes (recreated on the parent, so on every partition),
outgoing foreign keys, triggers and GRANTs (which `LIKE` does not copy). A primary key or
unique index on a partitioned table must contain the partition key, so the primary key
becomes (id, created_at); `id` stays unique because it comes from the identity sequence,
and Django keeps `id` as the model's pk. No foreign key may point at a partitioned table's
`id` alone: the migrations drop those first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db import OperationalError, connections, transaction
from psycopg import errors, sql

log = logging.getLogger(__name__)


# ATTACH/DETACH wait for conflicting locks (a long report holding the default partition); past
# this they give up, log, and the next hourly run tries again, rather than queueing every
# insert and read of the table behind them.
LOCK_TIMEOUT = "2s"


@dataclass(frozen=True)
class Scheme:
    table: str
    key: str  # the partition key column
    interval: str  # "month" or "day"
    ahead: int  # how many intervals beyond the current one are created in advance
    # Run on a new, still detached partition holding the rows moved out of the default
    # partition: their DELETE fired the table's row triggers, the INSERT into the detached
    # table and the ATTACH fire none, so whatever a trigger keeps per row is put back here.
    after_move: str = ""


# The DELETE from the default removed the moved rows' channel ids (chats_message_external_key,
# chats 0009); without them a duplicate delivery would be accepted.
_MESSAGE_KEYS = (
    "INSERT INTO chats_message_external_key (inbox_id, external_id) "
    "SELECT inbox_id, external_id FROM {part} WHERE external_id IS NOT NULL"
)
MESSAGES = Scheme("chats_message", "created_at", "month", 3, after_move=_MESSAGE_KEYS)
LIVE_EVENTS = Scheme("smartdesk_liveevent", "created_at", "day", 7)
SCHEMES = (MESSAGES, LIVE_EVENTS)


# --- naming and bounds -----------------------------------------------------------------------


def _start(scheme: Scheme, moment: datetime | date) -> date:
    day = moment.astimezone(UTC).date() if isinstance(moment, datetime) else moment
    return day.replace(day=1) if scheme.interval == "month" else day


def _next(scheme: Scheme, start: date) -> date:
    if scheme.interval == "day":
        return start + timedelta(days=1)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def partition_name(scheme: Scheme, start: date) -> str:
    suffix = start.strftime("%Y%m") if scheme.interval == "month" else start.strftime("%Y%m%d")
    return f"{scheme.table}_p{suffix}"


def default_name(scheme: Scheme) -> str:
    return f"{scheme.table}_default"


def _bound(start: date) -> str:
    return f"{start.isoformat()} 00:00:00+00"


# --- introspection -------------------------------------------------------------------------


def is_partitioned(cursor, table: str) -> bool:
    cursor.execute("SELECT c.relkind = 'p' FROM pg_class c WHERE c.oid = to_regclass(%s)", [table])
    row = cursor.fetchone()
    return bool(row and row[0])


def partitions(cursor, table: str) -> list[tuple[str, str]]:
    """(name, bound expression) of each partition, oldest range first, the default last."""
    cursor.execute(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(%s) "
        "ORDER BY c.relname",
        [table],
    )
    rows = cursor.fetchall()
    return sorted(rows, key=lambda row: (row[1] == "DEFAULT", row[0]))


def _ranged(cursor, scheme: Scheme) -> dict[date, str]:
    """The range partitions by their start (only the ones named by this module)."""
    found = {}
    prefix = f"{scheme.table}_p"
    for name, _bound_sql in partitions(cursor, scheme.table):
        if name.startswith(prefix):
            digits = name[len(prefix) :]
            fmt = "%Y%m" if scheme.interval == "month" else "%Y%m%d"
            try:
                found[datetime.strptime(digits, fmt).replace(tzinfo=UTC).date()] = name
            except ValueError:
                continue
    return found


# --- maintenance ---------------------------------------------------------------------------


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
    cursor.execute(
        sql.SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES FROM (%s) TO (%s)").format(
            table, sql.Identifier(name)
        ),
        [low, high],
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


def ensure_partitions(
    scheme: Scheme, *, now: datetime | None = None, using: str = "default"
) -> list[str]:
    """Create every missing partition from the current interval to `ahead` intervals on.
    Idempotent; a no-op on a plain table or a database other than PostgreSQL."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return []
    now = now or datetime.now(UTC)
    created = []
    try:
        with transaction.atomic(using=using), connection.cursor() as cursor:
            if not is_partitioned(cursor, scheme.table):
                return []
            # One maintainer at a time (two beats, a manual run): the second waits, then
            # finds the partitions there.
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))", [f"partitions:{scheme.table}"]
            )
            _set_lock_timeout(cursor)
            existing = _ranged(cursor, scheme)
            start = _start(scheme, now)
            for _ in range(scheme.ahead + 1):
                if start not in existing:
                    created.append(_create_partition(cursor, scheme, start))
                start = _next(scheme, start)
            _reset_lock_timeout(cursor)
    except OperationalError as exc:
        if not isinstance(exc.__cause__, errors.LockNotAvailable):
            raise
        log.warning(
            "partitions of %s: lock not granted within %s, next run retries",
            scheme.table,
            LOCK_TIMEOUT,
        )
        return []
    if created:
        log.info("partitions created: %s", ", ".join(created))
    return created


def drop_partitions_before(
    scheme: Scheme, cutoff: datetime, *, using: str = "default"
) -> list[str]:
    """Drop the partitions whose whole range ends at or before `cutoff` (retention). Rows in
    the partition that straddles the cutoff are the caller's to delete."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return []
    dropped = []
    try:
        with transaction.atomic(using=using), connection.cursor() as cursor:
            if not is_partitioned(cursor, scheme.table):
                return []
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))", [f"partitions:{scheme.table}"]
            )
            _set_lock_timeout(cursor)
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
            _reset_lock_timeout(cursor)
    except OperationalError as exc:
        if not isinstance(exc.__cause__, errors.LockNotAvailable):
            raise
        log.warning(
            "dropping partitions of %s: lock not granted within %s, next run retries",
            scheme.table,
            LOCK_TIMEOUT,
        )
        return []
    if dropped:
        log.info("partitions dropped: %s", ", ".join(dropped))
    return dropped


def maintain(*, now: datetime | None = None, using: str = "default") -> dict[str, list[str]]:
    """The periodic job's body: partitions ahead for every partitioned table."""
    return {scheme.table: ensure_partitions(scheme, now=now, using=using) for scheme in SCHEMES}


# --- conversion (the migrations) ----------------------------------------------------------------


def _fetch(cursor, query: str, params: list) -> list[tuple]:
    cursor.execute(query, params)
    return cursor.fetchall()


def _shape(cursor, table: str) -> dict:
    """What a rebuilt table must get back: index definitions (the primary key apart), outgoing
    foreign keys, triggers, and the identity sequence's position."""
    indexes = _fetch(
        cursor,
        "SELECT c.relname, pg_get_indexdef(i.indexrelid), i.indisunique FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE i.indrelid = to_regclass(%s) AND NOT i.indisprimary ORDER BY c.relname",
        [table],
    )
    foreign = _fetch(
        cursor,
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = to_regclass(%s) AND contype = 'f' ORDER BY conname",
        [table],
    )
    incoming = _fetch(
        cursor,
        "SELECT conrelid::regclass::text, conname FROM pg_constraint "
        "WHERE confrelid = to_regclass(%s) AND contype = 'f'",
        [table],
    )
    triggers = _fetch(
        cursor,
        "SELECT pg_get_triggerdef(oid) FROM pg_trigger "
        "WHERE tgrelid = to_regclass(%s) AND NOT tgisinternal ORDER BY tgname",
        [table],
    )
    # GRANTs to other roles (a BI reader): CREATE TABLE ... LIKE does not copy them.
    grants = _fetch(
        cursor,
        "SELECT a.privilege_type, CASE WHEN a.grantee = 0 THEN NULL "
        "ELSE pg_get_userbyid(a.grantee) END, a.is_grantable "
        "FROM pg_class c, aclexplode(c.relacl) a "
        "WHERE c.oid = to_regclass(%s) AND a.grantee <> c.relowner "
        "ORDER BY 2 NULLS FIRST, 1",
        [table],
    )
    (sequence,) = _fetch(cursor, "SELECT pg_get_serial_sequence(%s, 'id')", [table])[0]
    return {
        "indexes": indexes,
        "foreign": foreign,
        "incoming": incoming,
        "triggers": triggers,
        "grants": grants,
        "sequence": sequence,
    }


def _restore(cursor, table: str, shape: dict, *, unique: dict[str, bool]) -> None:
    """Recreate indexes, foreign keys and triggers on the rebuilt `table`. `unique` overrides
    whether a named index is unique (a partitioned table cannot keep one without its key)."""
    for name, definition, was_unique in shape["indexes"]:
        want = unique.get(name, was_unique)
        if want and not was_unique:
            definition = definition.replace("CREATE INDEX", "CREATE UNIQUE INDEX", 1)
        elif was_unique and not want:
            definition = definition.replace("CREATE UNIQUE INDEX", "CREATE INDEX", 1)
        cursor.execute(definition)
    for name, definition in shape["foreign"]:
        cursor.execute(
            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(
                sql.Identifier(table), sql.Identifier(name)
            )
            + sql.SQL(definition)
        )
    for (definition,) in shape["triggers"]:
        cursor.execute(definition)
    for privilege, grantee, grantable in shape["grants"]:
        cursor.execute(
            sql.SQL("GRANT {} ON {} TO {}{}").format(
                sql.SQL(privilege),  # a keyword from aclexplode (SELECT, INSERT, ...)
                sql.Identifier(table),
                sql.Identifier(grantee) if grantee else sql.SQL("PUBLIC"),
                sql.SQL(" WITH GRANT OPTION" if grantable else ""),
            )
        )


def _rebuild(cursor, scheme: Scheme, *, partitioned: bool, unique: dict[str, bool]) -> None:
    table = scheme.table
    old = f"{table}__old"
    ident = sql.Identifier
    cursor.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(ident(table)))
    shape = _shape(cursor, table)
    if shape["incoming"]:
        raise RuntimeError(f"foreign keys still point at {table}: {shape['incoming']}")
    seq_schema, seq_name = shape["sequence"].split(".")
    cursor.execute(
        sql.SQL("SELECT last_value, is_called FROM {}").format(ident(seq_schema, seq_name))
    )
    last_value, is_called = cursor.fetchone()
    cursor.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(ident(table), ident(old)))
    cursor.execute(
        sql.SQL("ALTER SEQUENCE {} RENAME TO {}").format(
            ident(seq_schema, seq_name), ident(f"{seq_name}__old")
        )
    )
    # Constraint names are per table, but a CHECK copied by LIKE keeps its name: fine.
    like = sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING ALL EXCLUDING INDEXES)").format(
        ident(table), ident(old)
    )
    if partitioned:
        like += sql.SQL(" PARTITION BY RANGE ({})").format(ident(scheme.key))
    cursor.execute(like)
    if partitioned:
        cursor.execute(
            sql.SQL("CREATE TABLE {} PARTITION OF {} DEFAULT").format(
                ident(default_name(scheme)), ident(table)
            )
        )
        cursor.execute(
            sql.SQL("SELECT min({key}), max({key}) FROM {old}").format(
                key=ident(scheme.key), old=ident(old)
            )
        )
        low, high = cursor.fetchone()
        now = datetime.now(UTC)
        start = _start(scheme, min(low or now, now))
        stop = _start(scheme, max(high or now, now))
        for _ in range(scheme.ahead):
            stop = _next(scheme, stop)
        while start <= stop:
            _create_partition(cursor, scheme, start)
            start = _next(scheme, start)
    cursor.execute(sql.SQL("INSERT INTO {} SELECT * FROM {}").format(ident(table), ident(old)))
    cursor.execute(sql.SQL("DROP TABLE {}").format(ident(old)))
    # The new identity sequence goes on where the old one was (never reusing an id).
    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
    new_schema, new_name = cursor.fetchone()[0].split(".")
    if new_name != seq_name:
        cursor.execute(
            sql.SQL("ALTER SEQUENCE {} RENAME TO {}").format(
                ident(new_schema, new_name), ident(seq_name)
            )
        )
    cursor.execute(
        sql.SQL("SELECT setval({}, %s, %s)").format(sql.Literal(f"{seq_schema}.{seq_name}")),
        [last_value, is_called],
    )
    key = [ident("id"), ident(scheme.key)] if partitioned else [ident("id")]
    cursor.execute(
        sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY ({})").format(
            ident(table), ident(f"{table}_pkey"), sql.SQL(", ").join(key)
        )
    )
    _restore(cursor, table, shape, unique=unique)
    cursor.execute(sql.SQL("ANALYZE {}").format(ident(table)))


def to_partitioned(schema_editor, scheme: Scheme, *, not_unique: tuple[str, ...] = ()) -> None:
    """Rebuild `scheme.table` as partitioned, keeping every row; `not_unique` names unique
    indexes that become plain ones (their uniqueness is kept another way, or dropped)."""
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        if is_partitioned(cursor, scheme.table):
            return
        _rebuild(cursor, scheme, partitioned=True, unique=dict.fromkeys(not_unique, False))


def to_plain(schema_editor, scheme: Scheme, *, unique_again: tuple[str, ...] = ()) -> None:
    """The way back: one plain table with every row, `unique_again` unique once more."""
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        if not is_partitioned(cursor, scheme.table):
            return
        _rebuild(cursor, scheme, partitioned=False, unique=dict.fromkeys(unique_again, True))
