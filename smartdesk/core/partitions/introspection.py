"""What the catalog says about a table: partitioned or not, and its partitions."""

from __future__ import annotations

from datetime import UTC, date, datetime

from smartdesk.core.partitions.schemes import Scheme


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
