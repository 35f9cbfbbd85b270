"""The live wallboard: the queues now, presence, and today's figures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, Min, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import OperatorProfile, Team
from analytics.kpis import ChatTotals
from analytics.selectors.dashboard import names
from analytics.selectors.scope import Filters, local_day_bounds, stat_scope, viewer_tz
from analytics.selectors.totals import chat_totals
from chats import selectors as chat_selectors


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
