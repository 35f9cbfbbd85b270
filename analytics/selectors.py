"""Reads for the dashboards and the reports API. Figures come from the hourly roll-ups only.

Who sees which figures: the statistics capability opens the dashboard; the role's scope
narrows it like it narrows conversations — `all` sees every team, `teams` the user's teams,
`assigned` only their own figures (`stat_scope`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, Min, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.access import profile_of, scope_of
from accounts.models import OperatorProfile, Role, Team, User
from analytics import calls as call_source
from analytics.kpis import CALL_SUM_FIELDS, CHAT_SUM_FIELDS, CallTotals, ChatTotals
from analytics.models import HourlyActivity, HourlyCall, HourlyChat, HourlyPresence
from chats import selectors as chat_selectors

GROUPS = ("team", "operator", "channel", "topic", "hour", "day")


@dataclass(frozen=True)
class Filters:
    """A period [start, end) in UTC and optional dimensions. `None` means all."""

    start: datetime
    end: datetime
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    team_ids: tuple[int, ...] | None = None
    operator_ids: tuple[int, ...] | None = None
    channels: tuple[str, ...] | None = None
    topics: tuple[str, ...] | None = None

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    def previous(self) -> Filters:
        """The period of the same length just before this one."""
        return replace(self, start=self.start - self.length, end=self.start)


def viewer_tz(user: Any) -> ZoneInfo:
    profile = profile_of(user)
    return ZoneInfo(profile.time_zone if profile is not None else "UTC")


def local_day_bounds(first: date, last: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[local midnight of `first`, local midnight after `last`) as aware datetimes (a DST
    day is 23 or 25 hours long)."""
    start = datetime.combine(first, time.min, tzinfo=tz)
    end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=tz)
    return start.astimezone(ZoneInfo("UTC")), end.astimezone(ZoneInfo("UTC"))


def stat_scope(user: Any, filters: Filters) -> Filters:
    """Narrow `filters` to what the user's role scope allows."""
    scope = scope_of(user)
    if scope == Role.Scope.ALL:
        return filters
    if scope == Role.Scope.TEAMS:
        mine = set(Team.objects.filter(members__user_id=user.pk).values_list("pk", flat=True))
        wanted = set(filters.team_ids) if filters.team_ids is not None else mine
        return replace(filters, team_ids=tuple(sorted(wanted & mine)))
    me = (user.pk,) if user is not None and user.pk else ()
    wanted = filters.operator_ids
    return replace(filters, operator_ids=tuple(i for i in me if wanted is None or i in wanted))


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


def calls_available() -> bool:
    return call_source.call_model() is not None


def call_totals(filters: Filters, *, group_by: str | None = None) -> dict[Any, CallTotals]:
    qs = HourlyCall.objects.all()
    if filters.channels is not None and "phone" not in filters.channels:
        qs = qs.none()
    if group_by in ("channel", "topic"):
        group_by = None
    return _grouped(_apply(qs, filters), CALL_SUM_FIELDS, group_by, filters.tz, CallTotals)


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
    if calls_available():
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
    calls = call_totals(filters, group_by="operator") if calls_available() else {}
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


# --- the live wallboard -------------------------------------------------------------------------


@dataclass
class Wallboard:
    queue_length: int
    longest_wait_seconds: int | None
    operators_online: int
    operators_away: int
    today_service_level: float | None
    today_volume: int
    today_answered: int
    today_csat_avg: float | None
    per_team: list[dict[str, Any]]


def wallboard(user: Any, *, now: datetime | None = None) -> Wallboard:
    """Now: the queues through the conversation gate, presence, and today's figures (local
    day of the viewer) from the roll-ups (at most a minute behind)."""
    now = now or timezone.now()
    tz = viewer_tz(user)
    waiting = chat_selectors.visible_conversations(user).filter(chat_selectors.waiting_q())
    per_team_raw = {
        r["team_id"]: r
        for r in waiting.values("team_id")
        .annotate(n=Count("pk"), oldest=Min(Coalesce("queued_at", "created_at")))
        .order_by()
    }
    local_today = now.astimezone(tz).date()
    start, end = local_day_bounds(local_today, local_today, tz)
    filters = stat_scope(user, Filters(start=start, end=end, tz=tz))
    today = chat_totals(filters).get(None, ChatTotals()).kpis()
    profiles = OperatorProfile.objects.filter(user__is_active=True)
    if filters.team_ids is not None:
        profiles = profiles.filter(teams__in=filters.team_ids).distinct()
    presence = _presence_counts(profiles)
    teams = names(Team, per_team_raw)
    per_team = [
        {
            "team": teams.get(tid, "—"),
            "waiting": v["n"],
            "longest_wait_seconds": int((now - v["oldest"]).total_seconds()),
        }
        for tid, v in sorted(per_team_raw.items(), key=lambda kv: teams.get(kv[0], ""))
    ]
    oldest = [v["oldest"] for v in per_team_raw.values()]
    return Wallboard(
        queue_length=sum(v["n"] for v in per_team_raw.values()),
        longest_wait_seconds=int((now - min(oldest)).total_seconds()) if oldest else None,
        operators_online=presence.get(OperatorProfile.Presence.ONLINE, 0),
        operators_away=presence.get(OperatorProfile.Presence.AWAY, 0),
        today_service_level=today["service_level"],  # type: ignore[arg-type]
        today_volume=int(today["volume"] or 0),
        today_answered=int(today["answered"] or 0),
        today_csat_avg=today["csat_avg"],  # type: ignore[arg-type]
        per_team=per_team,
    )


def _presence_counts(profiles: QuerySet[OperatorProfile]) -> dict[str, int]:
    return {
        r["presence"]: r["n"]
        for r in profiles.values("presence").annotate(n=Count("pk", distinct=True)).order_by()
    }
