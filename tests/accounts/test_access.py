from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from accounts import access
from accounts.access import Capability
from accounts.models import Role
from tests import factories

pytestmark = pytest.mark.django_db


def test_every_capability_has_a_role_flag() -> None:
    fields = {f.name for f in Role._meta.get_fields()}
    assert {access.role_field(c) for c in Capability} <= fields


@pytest.mark.parametrize("scope", [s.value for s in Role.Scope])
def test_scope_and_capabilities_are_stored_and_read_back(scope: str) -> None:
    role = factories.make_role(
        scope=scope,
        can_view_statistics=True,
        can_export_reports=True,
        can_handle_conversations=False,
    )
    user = factories.make_user(role=Role.objects.get(pk=role.pk))

    fresh = type(user).objects.get(pk=user.pk)  # nothing remembered from creation
    assert access.scope_of(fresh) == scope
    assert access.capabilities_of(fresh) == {
        Capability.VIEW_STATISTICS,
        Capability.EXPORT_REPORTS,
    }


def test_builtin_roles_grant_what_their_names_promise(roles: dict[str, Role]) -> None:
    operator = factories.make_user(role=roles[Role.OPERATOR])
    admin = factories.make_user(role=roles[Role.ADMIN])
    super_admin = factories.make_user(role=roles[Role.SUPER_ADMIN])

    assert access.scope_of(operator) == Role.Scope.TEAMS
    # An operator works on the conversations of their teams, and nothing more.
    assert access.capabilities_of(operator) == {Capability.HANDLE_CONVERSATIONS}
    assert access.scope_of(admin) == Role.Scope.ALL
    assert Capability.VIEW_STATISTICS in access.capabilities_of(admin)
    assert Capability.MANAGE_ACCESS not in access.capabilities_of(admin)
    assert access.capabilities_of(super_admin) == frozenset(Capability)


def test_an_archived_role_still_grants_its_capabilities_to_its_holders() -> None:
    role = factories.make_role(can_view_statistics=True)
    user = factories.make_user(role=role)
    from accounts import services

    services.role_archive(role=role, actor=None)

    fresh = type(user).objects.get(pk=user.pk)
    assert access.has_capability(fresh, Capability.VIEW_STATISTICS)


def test_inactive_and_anonymous_users_hold_nothing(roles: dict[str, Role]) -> None:
    user = factories.make_user(role=roles[Role.SUPER_ADMIN], is_active=False)

    assert access.capabilities_of(user) == frozenset()
    assert access.scope_of(user) is None
    assert access.capabilities_of(AnonymousUser()) == frozenset()


def test_a_user_without_a_profile_sees_nothing(django_user_model) -> None:
    user = django_user_model.objects.create_user(username="bare", password="x")

    assert access.scope_of(user) is None
    assert access.capabilities_of(user) == frozenset()


def test_the_django_superuser_is_the_break_glass_account(django_user_model) -> None:
    root = django_user_model.objects.create_superuser(username="root", password="x")

    assert access.capabilities_of(root) == frozenset(Capability)
    assert access.scope_of(root) == Role.Scope.ALL


def test_capabilities_cost_one_query_per_request(django_assert_num_queries, operator) -> None:
    user = type(operator).objects.get(pk=operator.pk)
    # one query: the profile joined to its role; later questions are answered from memory
    with django_assert_num_queries(1):
        access.capabilities_of(user)
        access.scope_of(user)
        access.has_capability(user, Capability.EXPORT_REPORTS)


def test_a_user_read_with_their_profile_costs_no_second_query(operator, roles) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts.access import forget, profile_of, with_profile
    from accounts.models import OperatorProfile, User

    user = with_profile(User.objects.filter(pk=operator.pk)).get()
    with CaptureQueriesContext(connection) as queries:
        assert profile_of(user).role.slug == Role.OPERATOR
        assert access.scope_of(user) == Role.Scope.TEAMS
    assert len(queries) == 0

    # and after the profile changed, `forget` makes the next read see it
    OperatorProfile.objects.filter(user=operator).update(role=roles[Role.ADMIN])
    forget(user)
    assert profile_of(user).role.slug == Role.ADMIN

    # a user with no profile reads as None, with no query either
    bare = factories.make_user(username="noprofile")
    OperatorProfile.objects.filter(user=bare).delete()
    bare = with_profile(User.objects.filter(pk=bare.pk)).get()
    with CaptureQueriesContext(connection) as queries:
        assert profile_of(bare) is None
    assert len(queries) == 0


def test_the_profile_read_is_compiled_once_and_reads_what_is_stored_now(
    operator, roles, monkeypatch
) -> None:
    """Every request reads its user's profile: the query is compiled for the first read and
    run again for the next ones, each with its own user and the stored role of the moment."""
    from accounts.models import OperatorProfile, User
    from tests.compiles import compiled_models

    other = factories.make_user(username="second", role=roles[Role.ADMIN])
    access.profile_of(User.objects.get(pk=operator.pk))  # compiled here (or earlier)
    compiled = compiled_models(monkeypatch)

    first = access.profile_of(User.objects.get(pk=operator.pk))
    second = access.profile_of(User.objects.get(pk=other.pk))
    OperatorProfile.objects.filter(user=operator).update(role=roles[Role.SUPER_ADMIN])
    again = access.profile_of(User.objects.get(pk=operator.pk))

    assert OperatorProfile not in compiled
    assert (first.role.slug, second.role.slug, again.role.slug) == (
        Role.OPERATOR,
        Role.ADMIN,
        Role.SUPER_ADMIN,
    )
    assert (first.user_id, second.user_id) == (operator.pk, other.pk)


def test_on_another_database_the_profile_is_read_the_plain_way(operator, monkeypatch) -> None:
    """The embedded product's SQLite builds the profile's query each time, with the same
    answer (smartdesk/core/statements.py supports PostgreSQL only)."""
    from django.db import connection

    from accounts.models import User

    class Refusing(access.Reusables):
        def get(self, *args, **kwargs):
            raise AssertionError("the compiled statement is for PostgreSQL only")

    monkeypatch.setattr(connection, "vendor", "sqlite")
    monkeypatch.setattr(access, "_profile_statements", Refusing())
    profile = access.profile_of(User.objects.get(pk=operator.pk))
    assert profile is not None and profile.user_id == operator.pk
    assert profile.role.slug == Role.OPERATOR
