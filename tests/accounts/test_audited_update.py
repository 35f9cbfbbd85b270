"""`audited_update` (archive and restore of a role): the audit row keeps the whole snapshot
before and after, and only the changed field (with `updated_at`) is written."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import services
from accounts.models import AccessAuditEntry, Role, Team
from tests import factories

pytestmark = pytest.mark.django_db


def _last(role: Role) -> AccessAuditEntry:
    return AccessAuditEntry.objects.filter(target_type="role", target_id=role.pk).latest("id")


def test_archive_and_restore_audit_the_snapshot_before_and_after(super_admin) -> None:
    role = factories.make_role()

    archived = services.role_archive(role=role, actor=super_admin)
    entry = _last(role)
    assert (entry.action, entry.actor, entry.target_repr) == ("archived", super_admin, role.name)
    assert entry.before["archived_at"] is None
    assert entry.after["archived_at"] == archived.archived_at.isoformat()
    assert {k: v for k, v in entry.before.items() if k != "archived_at"} == {
        k: v for k, v in entry.after.items() if k != "archived_at"
    }
    assert entry.after["slug"] == role.slug

    services.role_restore(role=role, actor=super_admin)
    entry = _last(role)
    assert entry.action == "restored"
    assert entry.before["archived_at"] == archived.archived_at.isoformat()
    assert entry.after["archived_at"] is None


def test_archive_writes_only_the_archive_time(super_admin) -> None:
    role = factories.make_role()
    Role.objects.filter(pk=role.pk).update(description="changed elsewhere")
    with CaptureQueriesContext(connection) as queries:
        services.role_archive(role=role, actor=super_admin)
    updates = [q["sql"] for q in queries if q["sql"].startswith('UPDATE "accounts_role"')]
    assert len(updates) == 1
    assert '"archived_at"' in updates[0] and '"updated_at"' in updates[0]
    assert '"description"' not in updates[0]


def test_a_team_is_audited_when_created_and_changed_but_not_when_saved_unchanged(
    super_admin,
) -> None:
    team = services.team_save(team=Team(name="Returns"), actor=super_admin)
    services.team_save(team=team, actor=super_admin)
    team.default_capacity = (team.default_capacity or 0) + 1
    services.team_save(team=team, actor=super_admin)

    entries = AccessAuditEntry.objects.filter(target_type="team", target_id=team.pk)
    assert [e.action for e in entries.order_by("id")] == ["created", "changed"]
    changed = entries.latest("id")
    assert changed.after["default_capacity"] == changed.before["default_capacity"] + 1
