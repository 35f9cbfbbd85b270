"""The wallboard's per-team tiles: for each team the viewer may see, the queue now,
its longest wait, today's service level and the agents by state.

Scope follows the statistics pages: the role's scope narrows the teams (`selectors.stat_scope`),
the queue is read through the conversation gate (`visible_conversations`), and the service
level is the roll-ups' own (`ChatTotals.kpis()`, docs/kpis.md) — no second definition.
Five queries whatever the number of teams and agents.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Count, Min
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.models import OperatorProfile, Team
from analytics.kpis import ChatTotals, chat_sl_seconds
from analytics.selectors import Filters, chat_totals, local_day_bounds, stat_scope, viewer_tz
from chats import selectors as chat_selectors

Presence = OperatorProfile.Presence

# One state per agent, the first that applies, in the order a supervisor reads them.
STATES: dict[str, Promise] = {
    "on_call": _("On a call"),
    "at_capacity": _("At capacity"),
    "online": _("Online"),
    "away": _("Away"),
    "offline": _("Offline"),
}
# The same states as headings over a count ("3 online"): shorter in some languages.
STATE_HEADINGS: dict[str, Promise] = {
    "on_call": pgettext_lazy("how many operators are", "On a call"),
    "at_capacity": pgettext_lazy("how many operators are", "At capacity"),
    "online": pgettext_lazy("how many operators are", "Online"),
    "away": pgettext_lazy("how many operators are", "Away"),
    "offline": pgettext_lazy("how many operators are", "Offline"),
}
_RANK = {state: i for i, state in enumerate(STATES)}


@dataclass
class Agent:
    user_id: int
    name: str
    presence: str
    load: int
    capacity: int
    on_call: bool

    @property
    def state(self) -> str:
        """On a call (or wrapping one up) whatever the presence; else the presence, online
        agents with no free slot being at capacity."""
        if self.on_call:
            return "on_call"
        if self.presence != Presence.ONLINE:
            return self.presence if self.presence in STATES else "offline"
        if self.capacity and self.load >= self.capacity:
            return "at_capacity"
        return "online"

    @property
    def state_label(self) -> Promise:
        return STATES[self.state]

    @property
    def presence_label(self) -> str:
        return str(Presence(self.presence).label) if self.presence in Presence.values else ""


@dataclass
class TeamTile:
    team_id: int
    name: str
    waiting: int = 0
    longest_wait_seconds: int | None = None
    service_level: float | None = None
    agents: list[Agent] = field(default_factory=list)

    @property
    def sl_percent(self) -> float | None:
        return None if self.service_level is None else self.service_level * 100

    @property
    def sl_below_target(self) -> bool:
        return self.service_level is not None and (
            self.service_level < settings.ANALYTICS_CHAT_SL_TARGET
        )

    @property
    def wait_beyond_sl(self) -> bool:
        """Someone has waited longer than the service level allows."""
        return (self.longest_wait_seconds or 0) > chat_sl_seconds()

    @property
    def states(self) -> dict[str, int]:
        counts = dict.fromkeys(STATES, 0)
        for agent in self.agents:
            counts[agent.state] += 1
        return counts

    @property
    def state_counts(self) -> list[tuple[str, Promise, int]]:
        """(state, heading, count) in display order, for templates."""
        counts = self.states
        return [(state, label, counts[state]) for state, label in STATE_HEADINGS.items()]


def _today(user: Any, now: datetime) -> Filters:
    tz = viewer_tz(user)
    day = now.astimezone(tz).date()
    start, end = local_day_bounds(day, day, tz)
    return stat_scope(user, Filters(start=start, end=end, tz=tz))


def _agent_name(row: dict[str, Any]) -> str:
    full = f"{row['user__first_name']} {row['user__last_name']}".strip()
    return full or row["user__username"]


def wallboard_tiles(*, user: Any, now: datetime | None = None) -> list[TeamTile]:
    """One tile per team `user` may see, by team name. Agents are the active members whose
    role works on conversations; an `assigned`-scope viewer sees only themself."""
    now = now or timezone.now()
    filters = _today(user, now)
    teams = Team.objects.order_by("name")
    if filters.team_ids is not None:
        teams = teams.filter(pk__in=filters.team_ids)
    elif filters.operator_ids is not None:
        teams = teams.filter(members__user_id__in=filters.operator_ids)
    tiles = {t.pk: TeamTile(team_id=t.pk, name=t.name) for t in teams.only("pk", "name")}
    if not tiles:
        return []

    waiting = (
        chat_selectors.visible_conversations(user)
        .filter(chat_selectors.waiting_q(), team_id__in=tiles)
        .values("team_id")
        .annotate(n=Count("pk"), oldest=Min(Coalesce("queued_at", "created_at")))
        .order_by()
    )
    for row in waiting:
        tile = tiles[row["team_id"]]
        tile.waiting = row["n"]
        tile.longest_wait_seconds = max(0, int((now - row["oldest"]).total_seconds()))

    today: dict[Any, ChatTotals] = chat_totals(filters, group_by="team")
    for team_id, totals in today.items():
        if team_id in tiles:
            tiles[team_id].service_level = totals.kpis()["service_level"]  # type: ignore[assignment]

    agents = OperatorProfile.objects.filter(
        user__is_active=True, role__can_handle_conversations=True, teams__in=list(tiles)
    )
    if filters.operator_ids is not None:
        agents = agents.filter(user_id__in=filters.operator_ids)
    rows = agents.values(
        "teams",
        "user_id",
        "user__username",
        "user__first_name",
        "user__last_name",
        "presence",
        "load",
        "capacity",
        "busy_load",
    ).order_by()
    for row in rows:
        tiles[row["teams"]].agents.append(
            Agent(
                user_id=row["user_id"],
                name=_agent_name(row),
                presence=row["presence"],
                load=row["load"],
                capacity=row["capacity"],
                # A call in progress or in wrap-up (telephony sets it, docs/distribution.md).
                on_call=row["busy_load"] > 0,
            )
        )
    for tile in tiles.values():
        tile.agents.sort(key=lambda a: (_RANK[a.state], a.name.casefold()))
    return list(tiles.values())


def wallboard_agents(tiles: list[TeamTile]) -> list[tuple[Agent, list[str]]]:
    """Every agent of the tiles once, with the names of their teams (the normal wallboard's
    operator table)."""
    seen: dict[int, tuple[Agent, list[str]]] = {}
    for tile in tiles:
        for agent in tile.agents:
            seen.setdefault(agent.user_id, (agent, []))[1].append(tile.name)
    return sorted(seen.values(), key=lambda pair: (_RANK[pair[0].state], pair[0].name.casefold()))
