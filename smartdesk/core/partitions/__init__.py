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

The package:

- `schemes.py`: the partitioned tables (`Scheme`, `MESSAGES`, `LIVE_EVENTS`, `SCHEMES`) and
  the partitions' names and bounds.
- `introspection.py`: what the catalog says (`is_partitioned`, `partitions`).
- `maintenance.py`: the periodic job (`maintain`, `ensure_partitions`) and retention
  (`drop_partitions_before`), under `LOCK_TIMEOUT`.
- `conversion.py`: the migrations' rebuild of a table (`to_partitioned`, `to_plain`).
"""

from __future__ import annotations

from smartdesk.core.partitions.conversion import to_partitioned, to_plain
from smartdesk.core.partitions.introspection import is_partitioned, partitions
from smartdesk.core.partitions.maintenance import (
    LOCK_TIMEOUT,
    drop_partitions_before,
    ensure_partitions,
    maintain,
)
from smartdesk.core.partitions.schemes import (
    LIVE_EVENTS,
    MESSAGES,
    SCHEMES,
    Scheme,
    default_name,
    partition_name,
)

__all__ = [
    "LIVE_EVENTS",
    "LOCK_TIMEOUT",
    "MESSAGES",
    "SCHEMES",
    "Scheme",
    "default_name",
    "drop_partitions_before",
    "ensure_partitions",
    "is_partitioned",
    "maintain",
    "partition_name",
    "partitions",
    "to_partitioned",
    "to_plain",
]
