"""What leaves the building, shaped in one place (files and the API alike):

- a `datetime` column `x` is published as `x_local` (ISO 8601 with the offset, in the time
  zone of the person who asked: their profile's, `export_tz`) and `x_utc` (the instant);
- durations are whole seconds (`int` columns, rounded half up), a `float` column is rounded
  to its `digits`, so no unrounded float leaves.

`publish` gives the rows as dicts (the API); the files take `published_values`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from analytics.exports.dataset import Column
from analytics.selectors import viewer_tz


def _rounded(value: float, digits: int) -> Decimal:
    """Half up, from the shortest decimal spelling of the float (2.675 -> 2.68, not 2.67)."""
    return Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-digits), ROUND_HALF_UP)


def whole(value: float) -> int:
    """Whole units, half away from zero (2.5 -> 3, -2.5 -> -3)."""
    return int(value + 0.5) if value >= 0 else -int(-value + 0.5)


def output_columns(columns: Iterable[Column]) -> list[Column]:
    """The published columns: each datetime `x` as `x_local` (text) and `x_utc` (instant)."""
    out: list[Column] = []
    for c in columns:
        if c.type == "datetime":
            out.append(Column(f"{c.key}_local", "str", c.pii))
            out.append(Column(f"{c.key}_utc", "datetime", c.pii))
        else:
            out.append(c)
    return out


_DATETIME, _INT, _FLOAT, _AS_IS = range(4)


def _steps(columns: Iterable[Column]) -> list[tuple[int, str, int]]:
    kinds = {"datetime": _DATETIME, "int": _INT, "float": _FLOAT}
    return [(kinds.get(c.type, _AS_IS), c.key, c.digits) for c in columns]


def _values(steps: list[tuple[int, str, int]], row: dict[str, Any], tz: tzinfo) -> list[Any]:
    """The published values of one row, in `output_columns` order (the one place where times,
    durations and figures get their published form)."""
    out: list[Any] = []
    append = out.append
    for kind, key, digits in steps:
        value = row.get(key)
        if value is None:
            append(None)
            if kind == _DATETIME:
                append(None)
        elif kind == _AS_IS:
            append(value)
        elif kind == _DATETIME:
            # local: ISO 8601 with the offset, to the second (2026-06-01T12:00:00+03:00)
            append(value.astimezone(tz).isoformat(timespec="seconds"))
            append(value.astimezone(UTC))
        elif kind == _INT:
            append(value if type(value) is int else whole(float(value)))
        else:
            append(float(_rounded(value, digits)))
    return out


def published_values(
    columns: list[Column], rows: Iterable[dict[str, Any]], tz: tzinfo = UTC
) -> Iterator[list[Any]]:
    steps = _steps(columns)
    for row in rows:
        yield _values(steps, row, tz)


def publish_row(columns: list[Column], row: dict[str, Any], tz: tzinfo) -> dict[str, Any]:
    """One dataset row as published: local and UTC times, durations in whole seconds,
    floats rounded to their column's decimals (docs/kpis.md, "Exports")."""
    keys = [c.key for c in output_columns(columns)]
    return dict(zip(keys, _values(_steps(columns), row, tz), strict=True))


def publish(
    columns: list[Column], rows: Iterable[dict[str, Any]], tz: tzinfo = UTC
) -> Iterator[dict[str, Any]]:
    """The rows as published, as dicts (the API); the files take `published_values`."""
    keys = [c.key for c in output_columns(columns)]
    for values in published_values(columns, rows, tz):
        yield dict(zip(keys, values, strict=True))


def export_tz(user: Any) -> ZoneInfo:
    """The time zone of the local-time columns: the requesting user's profile's."""
    return viewer_tz(user)
