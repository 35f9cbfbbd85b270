"""Helpers (not a benchmark): the same data unpartitioned and partitioned, in one run.

`bench/inbox.py` and `bench/analytics.py` take the schema back to the migrations before
history partitioning (chats 0008, smartdesk 0002: one plain `chats_message` and one plain
`smartdesk_liveevent`, as today), fill it, measure, then apply the partitioning migrations to
that very data (timed: it is the downtime an upgrade costs at this size) and measure again.
Both passes run after VACUUM ANALYZE, in the same process, on the same rows.
"""

from __future__ import annotations

import time

BEFORE = [("chats", "0008_delivery_outbox"), ("smartdesk", "0002_liveevent_commit_seq")]
PLAIN = "plain"  # unpartitioned: today's schema
PARTITIONED = "partitioned"


def _executor():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    return executor


def to_plain() -> None:
    """Back to one plain table each (the database is empty: instant). Any migration the
    cloned template lacks is applied first (the template's name hashes only the top-level
    `*/migrations/`, so a nested app's new migration does not rebuild it)."""
    executor = _executor()
    executor.migrate(executor.loader.graph.leaf_nodes())
    _executor().migrate(BEFORE)
    _add_later_columns()


def _add_later_columns() -> None:
    """Going back to BEFORE also undid the migrations that came after partitioning (e.g.
    chats 0010's `close_settled_at`); the code measured needs their columns. Add each column
    today's models have and the plain table lacks, so the twin is today's schema but for the
    partitioning itself. Their indexes are left out: the partitioned pass gets them from the
    migrations, the plain one is measured without (none serves the pages measured)."""
    from django.apps import apps
    from django.db import connection

    tables = set(connection.introspection.table_names())
    with connection.schema_editor() as editor:
        for model in apps.get_models():
            table = model._meta.db_table
            if model._meta.proxy or not model._meta.managed or table not in tables:
                continue
            with connection.cursor() as cursor:
                columns = {
                    c.name for c in connection.introspection.get_table_description(cursor, table)
                }
            for field in model._meta.local_concrete_fields:
                if field.column not in columns:
                    editor.add_field(model, field)
                    _added.append((model, field))


# What `_add_later_columns` added: removed again before the migrations add them for real.
_added: list = []


def _remove_later_columns() -> None:
    from django.db import connection

    with connection.schema_editor() as editor:
        while _added:
            model, field = _added.pop()
            editor.remove_field(model, field)


def to_partitioned() -> float:
    """Apply the partitioning migrations to the filled database; returns their wall time."""
    _remove_later_columns()  # empty columns on the filled tables: instant, not timed
    started = time.perf_counter()
    executor = _executor()
    executor.migrate(executor.loader.graph.leaf_nodes())
    return time.perf_counter() - started


def vacuum_analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def partition_count() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = to_regclass('chats_message')"
        )
        return cursor.fetchone()[0]


def side_by_side(
    title: str, figures: dict[str, dict[str, tuple[float, ...]]], columns: tuple[str, ...]
) -> None:
    """Print `figures[label][row] = (values…)` as one row per measurement, the unpartitioned
    and partitioned values next to each other."""
    labels = list(figures)
    rows = list(figures[labels[0]])
    head = "".join(f"{col + ' ' + label:>24}" for col in columns for label in labels)
    print(f"\n{title}")
    print(f"  {'measurement':<40}{head}")
    for row in rows:
        cells = "".join(
            f"{figures[label][row][i]:>24.2f}" for i in range(len(columns)) for label in labels
        )
        print(f"  {row:<40}{cells}")
