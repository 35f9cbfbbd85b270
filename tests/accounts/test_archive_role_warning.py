"""Archiving a role still held by users: the admin action archives it — the holders
keep the role, nobody new gets it — and warns, naming every holder, so the super-admin knows
whom to move. A role nobody holds is archived with the plain confirmation only."""

from __future__ import annotations

import pytest
from django.contrib.messages import constants as levels
from django.test import Client
from django.urls import reverse

from accounts.models import Role, User
from tests import factories

pytestmark = pytest.mark.django_db


def _archive(user: User, *roles: Role) -> list[tuple[int, str]]:
    client = Client()
    client.force_login(user)
    response = client.post(
        reverse("admin:accounts_role_changelist"),
        {"action": "archive_selected", "_selected_action": [r.pk for r in roles]},
        follow=True,
    )
    assert response.status_code == 200
    return [(m.level, str(m)) for m in response.context["messages"]]


def test_archiving_a_role_in_use_warns_and_names_its_holders(super_admin, support) -> None:
    shift = factories.make_role(name="Night shift", slug="night-shift", scope=Role.Scope.TEAMS)
    factories.make_user(username="zoya", role=shift, teams=[support])
    factories.make_user(username="arkady", role=shift, teams=[support])
    idle = factories.make_role(name="Unused", slug="unused")

    shown = _archive(super_admin, shift, idle)

    shift.refresh_from_db()
    idle.refresh_from_db()
    assert shift.archived_at is not None and idle.archived_at is not None  # still archived
    warnings = [text for level, text in shown if level == levels.WARNING]
    assert len(warnings) == 1, shown
    [warning] = warnings
    assert "Night shift" in warning and "2 users" in warning
    assert "arkady, zoya" in warning  # every holder, by name
    assert "Unused" not in warning
    assert any(level == levels.SUCCESS and "2 roles archived" in t for level, t in shown)
    # the holders keep the role
    assert set(User.objects.filter(profile__role=shift).values_list("username", flat=True)) == {
        "zoya",
        "arkady",
    }


def test_archiving_an_unused_role_says_only_that_it_was_archived(super_admin) -> None:
    idle = factories.make_role(name="Unused", slug="unused")

    shown = _archive(super_admin, idle)

    assert [level for level, _ in shown] == [levels.SUCCESS]
    idle.refresh_from_db()
    assert idle.archived_at is not None
