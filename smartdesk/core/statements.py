"""A queryset compiled once and run again with other values: `Reusable`.

Django builds and compiles a queryset's SQL on every evaluation. For a read that runs on every
live event (chats' list row: thousands a minute on a busy floor) building and compiling took
more CPU than the rest of the read (2.4 ms of 5.3 ms, measured with the row's query), while
PostgreSQL serves the statement itself from a prepared plan.

A `Reusable` is built once from a queryset made with *slot* values (sentinels that no real
value equals: `slot_int()`, `slot_datetime()`), compiled, and then run with the real values in
the slots' places. Each run gives what the queryset would (the same model instances, with
`select_related` and annotations) from the same SQL text, so PostgreSQL's prepared statement
for it is reused too.

Only the parameters that are slots may change between runs: anything else the queryset was
built from (the user it was filtered for, their scope) belongs in the key under which the
caller keeps it. A slot may be several parameters (the same "now" in two predicates): each
takes the value. Building refuses a slot that is no parameter of its own type (it would never
change), and a time that is not a slot (it would be served unchanged for the life of the
process), so such a query fails loudly at its first run instead of going stale. Text
parameters are written into the SQL (`_with_text_written_in`): each distinct text makes a
statement of its own, so a text that varies by user or by request does not belong in one
(build that query each time, as the list's search is). PostgreSQL only: other backends get
values converted into the SQL's parameters (SQLite: times as text), and a caller keeps its
plain path for them (the embedded product's SQLite).
"""

from __future__ import annotations

import copy
import itertools
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Generic, TypeVar

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import Model, QuerySet
from psycopg.sql import Literal

M = TypeVar("M", bound=Model)

# Sentinels far outside what real data holds: negative ids, instants before 1900.
_ints = itertools.count(-2_000_000_001, -1)
_instants = itertools.count(1)


def slot_int() -> int:
    """A fresh integer no id equals."""
    return next(_ints)


def slot_datetime() -> datetime:
    """A fresh aware instant no stored time equals."""
    return datetime(1801, 1, 1, tzinfo=UTC) + timedelta(microseconds=next(_instants))


class Reusable(Generic[M]):
    """`queryset` compiled once; `run(**values)` puts each value at its slot's place."""

    def __init__(self, queryset: QuerySet[M], slots: dict[str, Any]) -> None:
        using = queryset.db
        if connections[using].vendor != "postgresql":
            # Values reach other backends' SQL converted (SQLite: times as text); only the
            # one this is tested on is supported. Callers keep a plain path for the others.
            raise NotImplementedError("Reusable needs PostgreSQL")
        compiler = queryset.query.get_compiler(using=using)
        try:
            sql, params = compiler.as_sql()
        except EmptyResultSet:  # `.none()`: a user who may see nothing
            sql, params = "", ()
        positions: dict[str, tuple[int, ...]] = {}
        for name, value in slots.items():
            found = tuple(
                n for n, param in enumerate(params) if type(param) is type(value) and param == value
            )
            if not found and sql:
                raise ValueError(f"slot {name!r} is 0 parameters: {sql}")
            positions[name] = found
        slotted = {n for found in positions.values() for n in found}
        fixed = [
            param
            for n, param in enumerate(params)
            if isinstance(param, date | time | timedelta) and n not in slotted
        ]
        if fixed:
            # A time compiled in would be served unchanged for the life of the process.
            raise ValueError(f"a time that is not a slot would go stale: {fixed}")
        sql, params, positions = _with_text_written_in(sql, params, positions)
        self._query = queryset.query
        self._model = queryset.model
        self._using = using
        self._compiler = compiler
        self._sql = sql
        self._params = tuple(params)
        self._positions = positions

    def run(self, **values: Any) -> list[M]:
        if values.keys() != self._positions.keys():
            raise TypeError(f"run() takes {sorted(self._positions)}, not {sorted(values)}")
        if not self._sql:
            return []
        params = list(self._params)
        for name, found in self._positions.items():
            for position in found:
                params[position] = values[name]
        statement = (self._sql, tuple(params))
        # The compiled state (what the columns are, which instances they fill) is shared and
        # only read; each run gets its own compiler for this thread's connection, which
        # answers with the statement instead of compiling again.
        compiler = copy.copy(self._compiler)
        compiler.connection = connections[self._using]
        compiler.as_sql = lambda *args, **kwargs: statement  # type: ignore[method-assign]
        query = copy.copy(self._query)
        query.get_compiler = lambda *args, **kwargs: compiler  # type: ignore[method-assign]
        return list(QuerySet(model=self._model, query=query, using=self._using))


_PLACEHOLDER = re.compile(r"(%s|%%)")


def _with_text_written_in(
    sql: str, params: list[Any], positions: dict[str, tuple[int, ...]]
) -> tuple[str, list[Any], dict[str, tuple[int, ...]]]:
    """`sql` with each text parameter that is not a slot written into it as a quoted literal,
    the parameters left, and the slots' positions among them.

    The texts of a compiled list query are constants (a status, a kind of contact), and
    partial indexes are defined by such constants (`status IN ('open', 'snoozed')`).
    PostgreSQL keeps one plan for every run of a prepared statement only when that plan can
    use the index, and it cannot prove a partial index's predicate from a parameter: the inbox
    page's query was planned afresh on every run (7 ms of planning for 2.5 ms of execution).
    Numbers (the user's id) stay parameters, so one statement serves every user of the same
    shape (scope, view, page)."""
    slotted = {n for found in positions.values() for n in found}
    kept: list[int] = []
    pieces: list[str] = []
    n = 0
    for piece in _PLACEHOLDER.split(sql):
        if piece != "%s":
            pieces.append(piece)
            continue
        value = params[n]
        if n not in slotted and isinstance(value, str):
            # str.__str__: the value psycopg would bind (str() of a str-and-Enum is its name).
            text = Literal(str.__str__(value)).as_string(None)
            pieces.append(text.replace("%", "%%"))
        else:
            pieces.append(piece)
            kept.append(n)
        n += 1
    moved = {old: new for new, old in enumerate(kept)}
    return (
        "".join(pieces),
        [params[old] for old in kept],
        {name: tuple(moved[p] for p in found) for name, found in positions.items()},
    )


class Reusables(Generic[M]):
    """A bounded, thread-safe cache of `Reusable`s by key, built on first use."""

    def __init__(self, size: int = 512) -> None:
        self._size = size
        self._found: OrderedDict[Hashable, Reusable[M]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, build: Callable[[], Reusable[M]]) -> Reusable[M]:
        with self._lock:
            found = self._found.get(key)
            if found is not None:
                self._found.move_to_end(key)
                return found
        made = build()  # outside the lock: two threads may both build; either result serves
        with self._lock:
            self._found[key] = made
            self._found.move_to_end(key)
            while len(self._found) > self._size:
                self._found.popitem(last=False)
        return made

    def clear(self) -> None:
        with self._lock:
            self._found.clear()
