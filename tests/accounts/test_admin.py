"""The Django admin as the super-admin's role editor, tried with every persona."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts import services
from accounts.access import Capability, role_field
from accounts.models import AccessAuditEntry, OperatorProfile, Role, User

pytestmark = pytest.mark.django_db


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _role_form(role: Role, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": role.name,
        "slug": role.slug,
        "description": role.description,
        "scope": role.scope,
        "goodwill_points_limit": role.goodwill_points_limit,
        "goodwill_period_points_limit": role.goodwill_period_points_limit or "",
        "goodwill_period_days": role.goodwill_period_days,
    }
    for capability in Capability:
        if getattr(role, role_field(capability)):
            data[role_field(capability)] = "on"
    for key, value in changes.items():
        if value is False:
            data.pop(key, None)
        elif value is True:
            data[key] = "on"
        else:
            data[key] = value
    return data


def _role_options(page: str) -> str:
    """The <option>s of the profile's role select, and nothing else on the page."""
    match = re.search(r'<select name="profile-0-role"[^>]*>(.*?)</select>', page, re.S)
    assert match, "no role select on the page"
    return match.group(1)


def _profile_form(user: User, **changes: Any) -> dict[str, Any]:
    profile = OperatorProfile.objects.get(user=user)
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_active": "on",
        "profile-TOTAL_FORMS": "1",
        "profile-INITIAL_FORMS": "1",
        "profile-MIN_NUM_FORMS": "1",
        "profile-MAX_NUM_FORMS": "1",
        "profile-0-id": str(profile.pk),
        "profile-0-user": str(user.pk),
        "profile-0-role": str(profile.role_id),
        "profile-0-teams": [str(t) for t in profile.teams.values_list("pk", flat=True)],
        "profile-0-skills": [],
        "profile-0-max_concurrent_conversations": str(profile.max_concurrent_conversations),
        "profile-0-phone_extension": profile.phone_extension,
        "profile-0-language": profile.language,
        "profile-0-time_zone": profile.time_zone,
        "profile-0-font_scale": str(profile.font_scale),
    }
    data.update({f"profile-0-{k}": v for k, v in changes.items()})
    return data


def test_super_admin_edits_a_role_and_the_change_is_audited(super_admin) -> None:
    role = services.role_save(role=Role(name="Night shift", slug="night"), actor=None)
    url = reverse("admin:accounts_role_change", args=[role.pk])

    response = _client(super_admin).post(
        url, _role_form(role, scope="all", can_view_statistics=True, can_export_reports=True)
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    role.refresh_from_db()
    assert role.scope == "all"
    assert role.can_view_statistics and role.can_export_reports
    entry = AccessAuditEntry.objects.filter(target_type="role", target_id=role.pk).first()
    assert entry.action == "changed"
    assert entry.actor == super_admin
    assert entry.before["can_export_reports"] is False
    assert entry.after["can_export_reports"] is True
    # and the admin shows the trail on the role's page
    page = _client(super_admin).get(url).content.decode()
    assert "can_export_reports: false → true" in page


def test_super_admin_creates_a_role_in_the_admin(super_admin) -> None:
    response = _client(super_admin).post(
        reverse("admin:accounts_role_add"),
        {
            "name": "BI analyst",
            "slug": "bi",
            "scope": "all",
            "can_export_reports": "on",
            "goodwill_points_limit": 0,
            "goodwill_period_days": 7,
        },
    )

    assert response.status_code == 302
    role = Role.objects.get(slug="bi")
    assert role.can_export_reports and not role.can_manage_access
    assert not role.can_handle_conversations  # a new role acts on nothing until granted
    assert AccessAuditEntry.objects.filter(target_id=role.pk, action="created").exists()


@pytest.mark.parametrize("persona", ["admin_user", "operator"])
@pytest.mark.parametrize(
    "url_name",
    ["admin:accounts_role_changelist", "admin:accounts_role_add", "admin:accounts_role_change"],
)
def test_admins_and_operators_get_403_on_role_editing(request, persona, url_name, roles) -> None:
    user = request.getfixturevalue(persona)
    role = roles[Role.OPERATOR]
    url = reverse(url_name, args=[role.pk] if url_name.endswith("change") else [])
    client = _client(user)

    assert client.get(url).status_code == 403
    assert client.post(url, _role_form(role, can_manage_access=True)).status_code == 403
    role.refresh_from_db()
    assert not role.can_manage_access


@pytest.mark.parametrize("persona", ["admin_user", "operator"])
def test_admins_and_operators_get_403_on_user_editing(request, persona, teammate) -> None:
    user = request.getfixturevalue(persona)
    url = reverse("admin:accounts_user_change", args=[teammate.pk])

    assert _client(user).get(url).status_code == 403
    response = _client(user).post(url, _profile_form(teammate, role=str(user.profile.role_id)))
    assert response.status_code == 403


def test_admin_reaches_the_admin_site_but_an_operator_does_not(admin_user, operator) -> None:
    assert _client(admin_user).get(reverse("admin:index")).status_code == 200
    assert _client(operator).get(reverse("admin:index")).status_code == 403


def test_anonymous_visitors_are_sent_to_the_one_login_page(client) -> None:
    response = client.get(reverse("admin:accounts_role_changelist"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_super_admin_changes_a_users_role_and_teams_with_an_audit_entry(
    super_admin, operator, roles, delivery
) -> None:
    url = reverse("admin:accounts_user_change", args=[operator.pk])
    data = _profile_form(operator, role=str(roles[Role.ADMIN].pk), teams=[str(delivery.pk)])

    response = _client(super_admin).post(url, data)

    assert response.status_code == 302, response.content.decode()[:3000]
    profile = OperatorProfile.objects.get(user=operator)
    assert profile.role.slug == Role.ADMIN
    assert list(profile.teams.values_list("name", flat=True)) == ["Delivery"]
    entry = AccessAuditEntry.objects.filter(target_type="user", target_id=operator.pk).first()
    assert entry.before["role"] == "operator"
    assert entry.after == {"is_active": True, "role": "admin", "teams": ["Delivery"]}


def test_the_admin_neither_offers_nor_accepts_an_archived_role_for_someone_new(
    super_admin, operator
) -> None:
    archived = services.role_save(role=Role(name="Old", slug="old"), actor=None)
    services.role_archive(role=archived, actor=None)
    url = reverse("admin:accounts_user_change", args=[operator.pk])
    client = _client(super_admin)

    options = _role_options(client.get(url).content.decode())
    assert f'<option value="{archived.pk}"' not in options
    assert f'<option value="{operator.profile.role_id}" selected' in options

    response = client.post(url, _profile_form(operator, role=str(archived.pk)))
    assert response.status_code == 200  # the form again, with the error
    assert OperatorProfile.objects.get(user=operator).role.slug == Role.OPERATOR


def test_the_admin_keeps_an_archived_role_on_its_holder_when_editing_them(
    super_admin, support
) -> None:
    from tests import factories

    role = services.role_save(role=Role(name="Legacy", slug="legacy"), actor=None)
    holder = factories.make_user(role=role, teams=[support])
    services.role_archive(role=role, actor=None)
    url = reverse("admin:accounts_user_change", args=[holder.pk])
    client = _client(super_admin)

    assert f'<option value="{role.pk}" selected' in _role_options(client.get(url).content.decode())
    response = client.post(url, _profile_form(holder, phone_extension="PJSIP/150"))

    assert response.status_code == 302
    profile = OperatorProfile.objects.get(user=holder)
    assert (profile.role_id, profile.phone_extension) == (role.pk, "PJSIP/150")


def test_archive_action_in_the_admin(super_admin) -> None:
    role = services.role_save(role=Role(name="Seasonal", slug="seasonal"), actor=None)

    response = _client(super_admin).post(
        reverse("admin:accounts_role_changelist"),
        {"action": "archive_selected", "_selected_action": [str(role.pk)]},
    )

    assert response.status_code == 302
    role.refresh_from_db()
    assert role.is_archived
    assert AccessAuditEntry.objects.filter(target_id=role.pk, action="archived").exists()


def test_a_role_in_use_offers_no_delete(super_admin, operator, roles) -> None:
    custom = services.role_save(role=Role(name="Custom", slug="custom"), actor=None)
    from tests import factories

    factories.make_user(role=custom)
    client = _client(super_admin)

    for role in (custom, roles[Role.OPERATOR]):
        response = client.post(
            reverse("admin:accounts_role_delete", args=[role.pk]), {"post": "yes"}
        )
        assert response.status_code == 403
        assert Role.objects.filter(pk=role.pk).exists()


def test_the_audit_trail_is_read_only_even_for_super_admins(super_admin) -> None:
    role = services.role_save(role=Role(name="X", slug="x"), actor=super_admin)
    entry = AccessAuditEntry.objects.get(target_id=role.pk)
    client = _client(super_admin)

    assert client.get(reverse("admin:accounts_accessauditentry_changelist")).status_code == 200
    client.post(reverse("admin:accounts_accessauditentry_delete", args=[entry.pk]), {"post": "yes"})
    assert AccessAuditEntry.objects.filter(pk=entry.pk).exists()


def test_super_admin_adds_a_user_with_role_and_teams_in_one_form(super_admin, roles, support):
    response = _client(super_admin).post(
        reverse("admin:accounts_user_add"),
        {
            "username": "newbie",
            "first_name": "Nina",
            "password1": "a-long-enough-passphrase",
            "password2": "a-long-enough-passphrase",
            "usable_password": "true",
            "profile-TOTAL_FORMS": "1",
            "profile-INITIAL_FORMS": "0",
            "profile-MIN_NUM_FORMS": "1",
            "profile-MAX_NUM_FORMS": "1",
            "profile-0-role": str(roles[Role.OPERATOR].pk),
            "profile-0-teams": [str(support.pk)],
            "profile-0-max_concurrent_conversations": "4",
            "profile-0-phone_extension": "",
            "profile-0-language": "ru",
            "profile-0-time_zone": "Europe/Moscow",
            "profile-0-font_scale": "100",
        },
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    user = User.objects.get(username="newbie")
    assert user.check_password("a-long-enough-passphrase")
    assert (user.profile.role.slug, user.profile.max_concurrent_conversations) == ("operator", 4)
    trail = AccessAuditEntry.objects.filter(target_type="user", target_id=user.pk)
    assert {e.action for e in trail} == {"created"}
    assert any(e.after.get("teams") == ["Support"] for e in trail)


def test_api_tokens_are_never_listed_in_full(super_admin, operator) -> None:
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=operator)

    page = _client(super_admin).get(reverse("admin:authtoken_tokenproxy_changelist"))

    assert page.status_code == 200
    assert token.key not in page.content.decode()
    assert f"{token.key[:4]}…" in page.content.decode()


def test_teams_are_not_deleted_from_the_admin(super_admin, support, operator) -> None:
    response = _client(super_admin).post(
        reverse("admin:accounts_team_delete", args=[support.pk]), {"post": "yes"}
    )

    assert response.status_code == 403
    assert operator.profile.teams.filter(pk=support.pk).exists()


def test_the_admin_login_page_sends_a_signed_in_user_to_the_admin_not_round_in_circles(
    admin_user, client
) -> None:
    assert _client(admin_user).get("/admin/login/")["Location"] == reverse("admin:index")
    assert client.get("/admin/login/")["Location"].startswith(reverse("login"))
