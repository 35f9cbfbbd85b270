"""The weekday × hour heatmap and the staffing forecast built on it (docs/kpis.md).

Roll-ups are per UTC hour. Each UTC hour of the period is one *sample* of the local
(weekday, hour) cell it falls in, in the viewer's time zone: on the autumn DST change the
repeated local hour gets two samples that day, on the spring change the skipped hour none.
Hours with no activity are samples of 0 — an average over a month divides by every hour of
the month that falls in the cell, not only the busy ones. p90 is the nearest-rank 90th
percentile of a cell's samples.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Avg, Sum

from accounts.models import OperatorProfile
from analytics.kpis import HOUR, CallTotals, ChatTotals, agents_needed, hour_floor
from analytics.models import HourlyCall, HourlyChat, HourlyPresence
from analytics.selectors import (
    Filters,
    active_seconds_by_hour,
    call_totals,
    chat_totals,
)

METRICS = ("concurrent", "arrivals", "calls")


@dataclass(frozen=True)
class Cell:
    weekday: int  # 0 = Monday
    hour: int
    avg: float
    p90: float
    samples: int


def p90(values: list[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def utc_hours(filters: Filters) -> list[datetime]:
    hours, cursor = [], hour_floor(filters.start)
    while cursor < filters.end:
        hours.append(cursor)
        cursor += HOUR
    return hours


def _per_hour(filters: Filters, metric: str) -> dict[datetime, float]:
    if metric == "concurrent":
        return {h: s / 3600.0 for h, s in active_seconds_by_hour(filters).items()}
    if metric == "arrivals":
        qs = HourlyChat.objects.filter(hour__gte=filters.start, hour__lt=filters.end)
        if filters.team_ids is not None:
            qs = qs.filter(team_id__in=filters.team_ids)
        if filters.channels is not None:
            qs = qs.filter(channel__in=filters.channels)
        if filters.topics is not None:
            qs = qs.filter(topic__in=filters.topics)
        return {r["hour"]: float(r["n"]) for r in qs.values("hour").annotate(n=Sum("arrived"))}
    if metric == "calls":
        qs = HourlyCall.objects.filter(hour__gte=filters.start, hour__lt=filters.end)
        if filters.team_ids is not None:
            qs = qs.filter(team_id__in=filters.team_ids)
        return {r["hour"]: float(r["n"]) for r in qs.values("hour").annotate(n=Sum("offered"))}
    if metric == "online":
        qs = HourlyPresence.objects.filter(hour__gte=filters.start, hour__lt=filters.end)
        if filters.team_ids is not None:
            qs = qs.filter(
                operator_id__in=OperatorProfile.objects.filter(teams__in=filters.team_ids).values(
                    "user_id"
                )
            )
        return {
            r["hour"]: r["s"] / 3600.0
            for r in qs.values("hour").annotate(s=Sum("online_seconds")).order_by()
        }
    raise ValueError(metric)


def _cells_from(filters: Filters, values: dict[datetime, float]) -> list[list[Cell]]:
    samples: dict[tuple[int, int], list[float]] = defaultdict(list)
    for hour in utc_hours(filters):
        local = hour.astimezone(filters.tz)
        samples[(local.weekday(), local.hour)].append(values.get(hour, 0.0))
    grid = []
    for weekday in range(7):
        row = []
        for h in range(24):
            s = samples.get((weekday, h), [])
            row.append(
                Cell(
                    weekday=weekday,
                    hour=h,
                    avg=sum(s) / len(s) if s else 0.0,
                    p90=p90(s),
                    samples=len(s),
                )
            )
        grid.append(row)
    return grid


def heatmap(filters: Filters, *, metric: str = "concurrent") -> list[list[Cell]]:
    """7 × 24 cells (Monday first, local hours) of `metric` per hour: average concurrent
    chats, new conversations, or calls offered. Two queries at most."""
    if metric not in (*METRICS, "online"):
        raise ValueError(metric)
    return _cells_from(filters, _per_hour(filters, metric))


@dataclass(frozen=True)
class StaffingCell:
    weekday: int
    hour: int
    chat_arrivals: float
    chat_operators: int
    call_arrivals: float
    call_agents: int
    needed: int
    online: float


def staffing(filters: Filters) -> dict[str, Any]:
    """Per hour of the week, the operators needed beside those online on average.

    Chats: concurrent chats by Little's law (arrivals per hour × average handle time, the
    resolution time of the period), divided by the average capacity (concurrent chats per
    operator). Calls: Erlang C agents for the call service-level target with the period's
    calls per hour and average handle time. Needed = chat operators + call agents (a
    conservative sum: a blended operator takes either)."""
    chats = chat_totals(filters).get(None, ChatTotals()).kpis()
    handle = chats["resolution_avg"] or float(settings.DISTRIBUTION_DEFAULT_HANDLE_SECONDS)
    capacity = (
        OperatorProfile.objects.filter(user__is_active=True).aggregate(c=Avg("capacity"))["c"]
        or settings.DISTRIBUTION_DEFAULT_CAPACITY
    )
    arrivals = heatmap(filters, metric="arrivals")
    online = heatmap(filters, metric="online")
    calls = heatmap(filters, metric="calls")
    call_handle = call_totals(filters).get(None, CallTotals()).kpis()["handle_avg"]
    cells = []
    for weekday in range(7):
        for h in range(24):
            a = arrivals[weekday][h].avg
            chat_ops = math.ceil(a * float(handle) / 3600.0 / float(capacity) - 1e-9) if a else 0
            c = calls[weekday][h].avg
            agents = (
                agents_needed(
                    calls_per_hour=c,
                    handle_seconds=float(call_handle),
                    target_seconds=settings.ANALYTICS_CALL_SL_SECONDS,
                    target_level=settings.ANALYTICS_CALL_SL_TARGET,
                )
                if c and call_handle
                else 0
            )
            cells.append(
                StaffingCell(
                    weekday=weekday,
                    hour=h,
                    chat_arrivals=a,
                    chat_operators=chat_ops,
                    call_arrivals=c,
                    call_agents=agents,
                    needed=chat_ops + agents,
                    online=online[weekday][h].avg,
                )
            )
    return {
        "cells": cells,
        "chat_handle_seconds": float(handle),
        "capacity": float(capacity),
        "call_handle_seconds": call_handle,
        "calls": True,  # part of the staffing API response: call figures are always included
    }
