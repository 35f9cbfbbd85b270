from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from accounts import services
from accounts.models import AccessAuditEntry, OperatorProfile, Role
from tests import factories

pytestmark = pytest.mark.django_db


def _entries(role: Role) -> list[AccessAuditEntry]:
    return list(
        AccessAuditEntry.objects.filter(target_type="role", target_id=role.pk).order_by("at", "id")
    )


def test_creating_and_editing_a_role_is_audited_with_before_and_after(super_admin) -> None:
    role = services.role_save(role=Role(name="Night shift", slug="night"), actor=super_admin)
    role.can_view_statistics = True
    role.scope = Role.Scope.ALL
    services.role_save(role=role, actor=super_admin)

    created, changed = _entries(role)
    assert created.action == "created"
    assert created.before is None
    assert created.after["name"] == "Night shift"
    assert changed.action == "changed"
    assert changed.actor == super_admin
    assert changed.actor_repr == str(super_admin)
    assert changed.before["can_view_statistics"] is False
    assert changed.after["can_view_statistics"] is True
    assert (changed.before["scope"], changed.after["scope"]) == ("assigned", "all")


def test_saving_an_unchanged_role_writes_no_audit_entry(super_admin) -> None:
    role = factories.make_role()
    services.role_save(role=Role.objects.get(pk=role.pk), actor=super_admin)

    assert len(_entries(role)) == 1  # only the creation


def test_an_archived_role_cannot_be_given_to_anyone_new(support) -> None:
    role = factories.make_role()
    services.role_archive(role=role, actor=None)

    with pytest.raises(ValidationError, match="archived"):
        factories.make_user(role=Role.objects.get(pk=role.pk), username="newcomer")
    assert not OperatorProfile.objects.filter(user__username="newcomer").exists()


def test_an_archived_role_stays_on_the_users_who_had_it(support, delivery) -> None:
    role = factories.make_role()
    holder = factories.make_user(role=role, teams=[support])

    services.role_archive(role=role, actor=None)
    # the holder's profile can still be edited (teams) while keeping the archived role
    profile = OperatorProfile.objects.get(user=holder)
    services.operator_profile_save(profile=profile, teams=[support, delivery], actor=None)

    profile.refresh_from_db()
    assert profile.role_id == role.pk
    assert set(profile.teams.values_list("name", flat=True)) == {"Support", "Delivery"}


def test_moving_someone_onto_an_archived_role_is_refused(operator) -> None:
    role = factories.make_role()
    services.role_archive(role=role, actor=None)
    profile = OperatorProfile.objects.get(user=operator)

    profile.role = Role.objects.get(pk=role.pk)
    with pytest.raises(ValidationError):
        services.operator_profile_save(profile=profile, teams=[], actor=None)

    assert OperatorProfile.objects.get(user=operator).role.slug == Role.OPERATOR


def test_archive_and_restore_are_audited_and_idempotent(super_admin) -> None:
    role = factories.make_role()

    services.role_archive(role=role, actor=super_admin)
    services.role_archive(role=role, actor=super_admin)
    services.role_restore(role=role, actor=super_admin)
    services.role_restore(role=role, actor=super_admin)

    assert [e.action for e in _entries(role)] == ["created", "archived", "restored"]
    role.refresh_from_db()
    assert role.archived_at is None


def test_a_role_in_use_is_never_deleted(operator) -> None:
    role = factories.make_role()
    factories.make_user(role=role)

    with pytest.raises(ValidationError, match="in use"):
        services.role_delete(role=role, actor=None)
    assert Role.objects.filter(pk=role.pk).exists()


def test_builtin_roles_are_never_deleted(roles) -> None:
    with pytest.raises(ValidationError, match="Built-in"):
        services.role_delete(role=roles[Role.ADMIN], actor=None)


def test_an_unused_custom_role_can_be_deleted_and_the_deletion_is_audited(super_admin) -> None:
    role = factories.make_role(name="Temp")
    role_id = role.pk

    services.role_delete(role=role, actor=super_admin)

    assert not Role.objects.filter(pk=role_id).exists()
    last = AccessAuditEntry.objects.filter(target_type="role", target_id=role_id).first()
    assert (last.action, last.target_repr, last.after) == ("deleted", "Temp", None)


def test_the_super_admin_role_cannot_be_disarmed_or_archived(roles) -> None:
    role = roles[Role.SUPER_ADMIN]
    role.can_manage_access = False
    with pytest.raises(ValidationError):
        services.role_save(role=role, actor=None)
    with pytest.raises(ValidationError):
        services.role_archive(role=Role.objects.get(slug=Role.SUPER_ADMIN), actor=None)
    assert Role.objects.get(slug=Role.SUPER_ADMIN).can_manage_access


def test_role_and_team_changes_of_a_user_are_audited(
    super_admin, operator, support, delivery, roles
):
    profile = OperatorProfile.objects.get(user=operator)
    profile.role = roles[Role.ADMIN]

    services.operator_profile_save(profile=profile, teams=[delivery], actor=super_admin)

    entry = AccessAuditEntry.objects.filter(target_type="user", target_id=operator.pk).first()
    assert entry.action == "changed"
    assert entry.actor == super_admin
    assert entry.before == {"is_active": True, "role": "operator", "teams": ["Support"]}
    assert entry.after == {"is_active": True, "role": "admin", "teams": ["Delivery"]}


def test_deactivating_a_user_is_audited(super_admin, operator) -> None:
    operator.is_active = False
    services.user_save(user=operator, actor=super_admin)

    entry = AccessAuditEntry.objects.filter(target_type="user", target_id=operator.pk).first()
    assert (entry.before, entry.after) == ({"is_active": True}, {"is_active": False})
