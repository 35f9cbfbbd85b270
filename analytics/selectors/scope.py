"""The period and dimensions a statistics read covers (`Filters`), the viewer's time zone
and local days, and the narrowing by the role's scope (`stat_scope`)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from accounts.access import profile_of, scope_of
from accounts.models import Role, Team

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
