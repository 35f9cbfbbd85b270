"""The statistics dashboard: the KPI cards against the previous period, the trend, the
operator table, active time by hour, and display names for grouped keys."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Sum

from accounts.models import OperatorProfile, User
from analytics.kpis import CallTotals, ChatTotals
from analytics.models import HourlyActivity, HourlyPresence
from analytics.selectors.scope import Filters
from analytics.selectors.totals import call_totals, chat_totals


@dataclass
class Card:
    key: str
    label: str
    value: float | int | None
    previous: float | int | None
    unit: str  # "count" | "seconds" | "percent" | "score"
    higher_is_better: bool = True

    @property
    def change(self) -> float | None:
        if self.value is None or self.previous in (None, 0):
            return None
        return (self.value - self.previous) / abs(self.previous)  # type: ignore[operator]

    @property
    def better(self) -> bool | None:
        change = self.change
        if change is None or change == 0:
            return None
        return (change > 0) == self.higher_is_better


def kpi_cards(filters: Filters) -> list[Card]:
    """The dashboard's cards: this period against the previous one. Two queries (four with
    calls)."""
    from django.utils.translation import gettext as _

    now = chat_totals(filters).get(None, ChatTotals()).kpis()
    before = chat_totals(filters.previous()).get(None, ChatTotals()).kpis()
    cards = [
        Card("volume", _("Conversations"), now["volume"], before["volume"], "count"),
        Card(
            "first_response_avg",
            _("First response"),
            now["first_response_avg"],
            before["first_response_avg"],
            "seconds",
            higher_is_better=False,
        ),
        Card(
            "service_level",
            _("Service level (%(s)s s)") % {"s": settings.ANALYTICS_CHAT_SL_SECONDS},
            now["service_level"],
            before["service_level"],
            "percent",
        ),
        Card(
            "resolution_avg",
            _("Resolution time"),
            now["resolution_avg"],
            before["resolution_avg"],
            "seconds",
            higher_is_better=False,
        ),
        Card(
            "reopen_rate",
            _("Reopened"),
            now["reopen_rate"],
            before["reopen_rate"],
            "percent",
            higher_is_better=False,
        ),
        Card("csat_avg", _("CSAT (1–5)"), now["csat_avg"], before["csat_avg"], "score"),
        Card(
            "csat_positive_share",
            _("Satisfied (4–5)"),
            now["csat_positive_share"],
            before["csat_positive_share"],
            "percent",
        ),
    ]
    cnow = call_totals(filters).get(None, CallTotals()).kpis()
    cbefore = call_totals(filters.previous()).get(None, CallTotals()).kpis()
    cards += [
        Card("calls_offered", _("Calls offered"), cnow["offered"], cbefore["offered"], "count"),
        Card(
            "calls_lost_rate",
            _("Lost calls"),
            cnow["lost_rate"],
            cbefore["lost_rate"],
            "percent",
            higher_is_better=False,
        ),
        Card(
            "calls_asa",
            _("Speed of answer"),
            cnow["asa"],
            cbefore["asa"],
            "seconds",
            higher_is_better=False,
        ),
        Card(
            "calls_handle_avg",
            _("Call handle time"),
            cnow["handle_avg"],
            cbefore["handle_avg"],
            "seconds",
            higher_is_better=False,
        ),
        Card(
            "calls_service_level",
            _("Call service level (%(s)s s)") % {"s": settings.ANALYTICS_CALL_SL_SECONDS},
            cnow["service_level"],
            cbefore["service_level"],
            "percent",
        ),
    ]
    return cards


def trend(filters: Filters) -> list[dict[str, Any]]:
    """Per local day (per hour for a period of two days or less): volume, first response,
    service level, CSAT."""
    unit = "hour" if filters.length <= timedelta(days=2) else "day"
    by = chat_totals(filters, group_by=unit)
    rows = []
    for key in sorted(by):
        k = by[key].kpis()
        label = key.astimezone(filters.tz).strftime("%d.%m %H:00") if unit == "hour" else key
        rows.append(
            {
                "label": str(label),
                "volume": k["volume"],
                "first_response_avg": k["first_response_avg"],
                "service_level": k["service_level"],
                "csat_avg": k["csat_avg"],
            }
        )
    return rows


def names(model: type, ids: Iterable[Any]) -> dict[Any, str]:
    ids = {i for i in ids if i is not None}
    if model is User:
        return {u.pk: str(u) for u in User.objects.filter(pk__in=ids)}
    return {t.pk: str(t) for t in model.objects.filter(pk__in=ids)}


@dataclass
class OperatorRow:
    operator_id: int
    name: str
    active: bool
    handled: int
    handle_avg: float | None
    answered: int
    first_response_avg: float | None
    csat_avg: float | None
    csat_count: int
    occupancy: float | None
    online_hours: float
    calls_answered: int = 0
    call_handle_avg: float | None = None


def operator_table(filters: Filters) -> list[OperatorRow]:
    """Per operator, from the roll-ups: conversations handled (closed as assignee) and their
    average handle (resolution) time, first responses, CSAT, occupancy (load / offered
    capacity while online). Deactivated operators and archived roles included."""
    chats = chat_totals(filters, group_by="operator")
    calls = call_totals(filters, group_by="operator")
    presence_qs = HourlyPresence.objects.filter(hour__gte=filters.start, hour__lt=filters.end)
    if filters.operator_ids is not None:
        presence_qs = presence_qs.filter(operator_id__in=filters.operator_ids)
    if filters.team_ids is not None:
        presence_qs = presence_qs.filter(
            operator_id__in=OperatorProfile.objects.filter(teams__in=filters.team_ids).values(
                "user_id"
            )
        )
    presence = {
        r["operator_id"]: r
        for r in presence_qs.values("operator_id")
        .annotate(online=Sum("online_seconds"), slots=Sum("slot_seconds"), used=Sum("load_seconds"))
        .order_by()
    }
    ids = {i for i in [*chats, *calls, *presence] if i is not None}
    users = {u.pk: u for u in User.objects.filter(pk__in=ids)}
    rows = []
    for uid in ids:
        t = chats.get(uid, ChatTotals()).kpis()
        c = calls.get(uid, CallTotals()).kpis() if uid in calls else {}
        p = presence.get(uid) or {}
        user = users.get(uid)
        rows.append(
            OperatorRow(
                operator_id=uid,
                name=str(user) if user else f"#{uid}",
                active=bool(user and user.is_active),
                handled=int(t["closed"] or 0),
                handle_avg=t["resolution_avg"],  # type: ignore[arg-type]
                answered=int(t["answered"] or 0),
                first_response_avg=t["first_response_avg"],  # type: ignore[arg-type]
                csat_avg=t["csat_avg"],  # type: ignore[arg-type]
                csat_count=int(t["csat_responses"] or 0),
                occupancy=(p["used"] / p["slots"]) if p.get("slots") else None,
                online_hours=(p.get("online") or 0) / 3600,
                calls_answered=int(c.get("answered") or 0),
                call_handle_avg=c.get("handle_avg"),  # type: ignore[arg-type]
            )
        )
    rows.sort(key=lambda r: (-r.handled, r.name))
    return rows


def active_seconds_by_hour(filters: Filters) -> dict[datetime, float]:
    qs = HourlyActivity.objects.filter(hour__gte=filters.start, hour__lt=filters.end)
    if filters.team_ids is not None:
        qs = qs.filter(team_id__in=filters.team_ids)
    if filters.channels is not None:
        qs = qs.filter(channel__in=filters.channels)
    return {
        r["hour"]: r["s"] for r in qs.values("hour").annotate(s=Sum("active_seconds")).order_by()
    }
