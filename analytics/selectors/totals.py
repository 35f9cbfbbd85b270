"""Summed chat and call figures from the hourly roll-ups, by one dimension or in total."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import QuerySet, Sum

from analytics.kpis import CALL_SUM_FIELDS, CHAT_SUM_FIELDS, CallTotals, ChatTotals
from analytics.models import HourlyCall, HourlyChat
from analytics.selectors.scope import Filters


def _apply(qs: QuerySet, filters: Filters, *, operator: bool = True) -> QuerySet:
    qs = qs.filter(hour__gte=filters.start, hour__lt=filters.end)
    if filters.team_ids is not None:
        qs = qs.filter(team_id__in=filters.team_ids)
    if operator and filters.operator_ids is not None:
        qs = qs.filter(operator_id__in=filters.operator_ids)
    if filters.channels is not None and hasattr(qs.model, "channel"):
        qs = qs.filter(channel__in=filters.channels)
    if filters.topics is not None and hasattr(qs.model, "topic"):
        qs = qs.filter(topic__in=filters.topics)
    return qs


_COLUMN = {"team": "team_id", "operator": "operator_id", "channel": "channel", "topic": "topic"}


def _grouped(
    qs: QuerySet, sums: Iterable[str], group_by: str | None, tz: ZoneInfo, make: Any
) -> dict[Any, Any]:
    sums = tuple(sums)
    keys: list[str] = []
    if group_by in _COLUMN:
        keys = [_COLUMN[group_by]]
    elif group_by in ("hour", "day"):
        keys = ["hour"]
    sums_expr = {f"s_{n}": Sum(n) for n in sums}
    if keys:
        rows = list(qs.values(*keys).annotate(**sums_expr).order_by())
    else:
        # One row for the total: an aggregate, not `.values()` (which would group by every
        # column and return the table).
        total = qs.aggregate(**sums_expr)
        rows = [total] if any(v is not None for v in total.values()) else []
    result: dict[Any, Any] = {}
    for row in rows:
        if group_by in _COLUMN:
            key = row[keys[0]]
        elif group_by == "hour":
            key = row["hour"]
        elif group_by == "day":
            key = row["hour"].astimezone(tz).date()
        else:
            key = None
        totals = result.setdefault(key, make())
        for n in sums:
            setattr(totals, n, getattr(totals, n) + (row[f"s_{n}"] or 0))
    return result


def chat_totals(filters: Filters, *, group_by: str | None = None) -> dict[Any, ChatTotals]:
    """Summed chat figures, by one dimension (or `None` for the total). One query."""
    return _grouped(
        _apply(HourlyChat.objects.all(), filters), CHAT_SUM_FIELDS, group_by, filters.tz, ChatTotals
    )


def call_totals(filters: Filters, *, group_by: str | None = None) -> dict[Any, CallTotals]:
    qs = HourlyCall.objects.all()
    if filters.channels is not None and "phone" not in filters.channels:
        qs = qs.none()
    if group_by in ("channel", "topic"):
        group_by = None
    return _grouped(_apply(qs, filters), CALL_SUM_FIELDS, group_by, filters.tz, CallTotals)
