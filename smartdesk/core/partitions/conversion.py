"""Rebuilding a table as partitioned, or back as plain: used by the migrations."""

from __future__ import annotations

from datetime import UTC, datetime

from psycopg import sql

from smartdesk.core.partitions.introspection import is_partitioned
from smartdesk.core.partitions.maintenance import _create_partition
from smartdesk.core.partitions.schemes import Scheme, _next, _start, default_name


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
