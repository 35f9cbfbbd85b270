"""Teams: their name and distribution settings, audited; members whose capacity follows
the team default get the new one."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from accounts.models import AccessAuditEntry, OperatorProfile, Team, User
from accounts.services.audit import _audit_saved
from accounts.services.common import _announce_available
from accounts.services.presence import capacity_refresh


def _team_snapshot(team: Team) -> dict[str, Any]:
    return {
        "name": team.name,
        "auto_assign": team.auto_assign,
        "default_capacity": team.default_capacity,
        "reassign_after_minutes": team.reassign_after_minutes,
    }


@transaction.atomic
def team_save(*, team: Team, actor: User | None) -> Team:
    """Create or change a team (name and distribution settings); audited. Members whose
    capacity follows the team default get the new one."""
    team.full_clean()
    previous = Team.objects.select_for_update().filter(pk=team.pk).first() if team.pk else None
    before = _team_snapshot(previous) if previous is not None else None
    team.save()
    _audit_saved(
        actor=actor,
        before=before,
        after=_team_snapshot(team),
        target_type=AccessAuditEntry.Target.TEAM,
        target_id=team.pk,
        target_repr=team.name,
    )
    if previous is not None:
        members = list(
            OperatorProfile.objects.filter(teams=team).values_list("user_id", "capacity")
        )
        refreshed = capacity_refresh([user_id for user_id, _capacity in members])
        _announce_available(
            user_id for user_id, capacity in members if refreshed.get(user_id, 0) > capacity
        )
        if previous.auto_assign != team.auto_assign and team.auto_assign:
            _announce_available(user_id for user_id, _capacity in members)
    return team
