"""Who and where a conversation can be transferred to (the transfer picker).

The same rules as `chats.services.conversations.conversation_transfer`: any team, and any
active operator whose role works on conversations; here only those online now (an offline
operator would not answer), whose role is not archived, most free room first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from accounts.models import OperatorProfile, Team
from accounts.selectors import assignable_operators, teams_by_name
from chats.models import Conversation


@dataclass(frozen=True)
class OperatorTarget:
    user: Any
    name: str
    presence: str
    presence_label: str
    load: int
    capacity: int
    teams: list[str]

    @property
    def free(self) -> int:
        return self.capacity - self.load


@dataclass(frozen=True)
class TeamTarget:
    team: Team
    online: int
    current: bool


def transfer_targets(
    *, conversation: Conversation, query: str = ""
) -> tuple[list[TeamTarget], list[OperatorTarget]]:
    """Teams, then online operators sorted by free capacity (then name), matching `query`
    (a part of a name, username or team name). The conversation's own assignee is left out."""
    query = query.strip()
    users = (
        assignable_operators()
        .filter(
            profile__presence=OperatorProfile.Presence.ONLINE,
            profile__role__archived_at__isnull=True,
        )
        .exclude(pk=conversation.assignee_id or 0)
        .select_related("profile")
        .prefetch_related("profile__teams")
    )
    if query:
        users = users.filter(
            Q(username__icontains=query)
            | Q(first_name__icontains=query)
            | Q(last_name__icontains=query)
            | Q(profile__teams__name__icontains=query)
        ).distinct()
    operators = [
        OperatorTarget(
            user=user,
            name=str(user),
            presence=user.profile.presence,
            presence_label=user.profile.get_presence_display(),
            load=user.profile.load,
            capacity=user.profile.capacity,
            teams=sorted(team.name for team in user.profile.teams.all()),
        )
        for user in users
    ]
    operators.sort(key=lambda target: (-target.free, target.name.lower()))
    online_by_team: dict[str, int] = {}
    for target in operators:
        for name in target.teams:
            online_by_team[name] = online_by_team.get(name, 0) + 1
    teams = teams_by_name()
    if query:
        teams = teams.filter(name__icontains=query)
    team_targets = [
        TeamTarget(
            team=team,
            online=online_by_team.get(team.name, 0),
            current=team.pk == conversation.team_id,
        )
        for team in teams
    ]
    return team_targets, operators
