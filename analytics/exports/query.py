"""What a dataset is asked for (`Query`) and the one filter pipeline every dataset applies it
with: `query_filter` for a dataset read through a row gate, `roll_up_scope` for the roll-ups
(narrowed by the role's `stat_scope`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import reduce
from operator import or_
from typing import Any

from django.db.models import Q, QuerySet

from analytics.selectors import Filters, stat_scope


@dataclass(frozen=True)
class Query:
    """What a dataset is asked for: period (UTC), teams, channels, operators, updated since
    (read from the request by `analytics.filters.ReportFilter`)."""

    start: datetime | None = None
    end: datetime | None = None
    team_ids: tuple[int, ...] | None = None
    channels: tuple[str, ...] | None = None
    updated_since: datetime | None = None
    operator_ids: tuple[int, ...] | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "team_ids": list(self.team_ids) if self.team_ids is not None else None,
            "channels": list(self.channels) if self.channels is not None else None,
            "updated_since": self.updated_since.isoformat() if self.updated_since else None,
            "operator_ids": list(self.operator_ids) if self.operator_ids is not None else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Query:
        def dt(v: str | None) -> datetime | None:
            return datetime.fromisoformat(v) if v else None

        return cls(
            start=dt(data.get("start")),
            end=dt(data.get("end")),
            team_ids=tuple(data["team_ids"]) if data.get("team_ids") is not None else None,
            channels=tuple(data["channels"]) if data.get("channels") is not None else None,
            updated_since=dt(data.get("updated_since")),
            operator_ids=(
                tuple(data["operator_ids"]) if data.get("operator_ids") is not None else None
            ),
        )


def query_filter(
    qs: QuerySet,
    query: Query,
    *,
    period: str,
    team: str | None = None,
    operator: str | None = None,
    channel: str | None = None,
    updated: tuple[str, ...] = (),
) -> QuerySet:
    """`qs` (already gated) narrowed to `query`: the period [start, end) on the `period` field,
    then teams, operators and channels on the given paths, then "updated since" as any of the
    `updated` fields at or after it. A path left out (None, or no `updated` fields) is a filter
    this dataset does not have."""
    if query.start is not None:
        qs = qs.filter(**{f"{period}__gte": query.start})
    if query.end is not None:
        qs = qs.filter(**{f"{period}__lt": query.end})
    if team is not None and query.team_ids is not None:
        qs = qs.filter(**{f"{team}__in": query.team_ids})
    if operator is not None and query.operator_ids is not None:
        qs = qs.filter(**{f"{operator}__in": query.operator_ids})
    if channel is not None and query.channels is not None:
        qs = qs.filter(**{f"{channel}__in": query.channels})
    if updated and query.updated_since is not None:
        since = query.updated_since
        qs = qs.filter(reduce(or_, (Q(**{f"{field}__gte": since}) for field in updated)))
    return qs


def roll_up_scope(user: Any, query: Query, *, end: datetime) -> Filters:
    """The roll-ups' gate: `query` as `Filters`, narrowed by the user's role (`stat_scope`).
    An open period starts in 2000 and ends at `end`."""
    return stat_scope(
        user,
        Filters(
            start=query.start or datetime(2000, 1, 1, tzinfo=UTC),
            end=query.end or end,
            team_ids=query.team_ids,
            channels=query.channels,
            operator_ids=query.operator_ids,
        ),
    )
