"""API tokens stop working when the password changes or is reset and when the account is
deactivated, whichever path did it."""

from __future__ import annotations

import pytest
from django.contrib.auth.forms import SetPasswordForm
from django.core.management import call_command
from django.test import Client, override_settings
from rest_framework.authtoken.models import Token

from accounts import services
from accounts.models import AccessAuditEntry, User
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-new-Passphrase-42"


def _api_status(key: str) -> int:
    return Client().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {key}").status_code


@pytest.fixture
def token(operator: User) -> Token:
    token = Token.objects.create(user=operator)
    assert _api_status(token.key) == 200
    return token


def _revoked(token: Token) -> bool:
    return not Token.objects.filter(key=token.key).exists() and _api_status(token.key) in (401, 403)


def test_the_admin_password_page_revokes_the_token(operator, token, super_admin) -> None:
    admin = Client()
    admin.force_login(super_admin)

    answer = admin.post(
        f"/admin/accounts/user/{operator.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )

    assert answer.status_code == 302, answer.content.decode()[:2000]
    assert _revoked(token)
    entry = AccessAuditEntry.objects.filter(
        target_type=AccessAuditEntry.Target.USER, target_id=operator.pk, after__api_tokens=0
    ).get()
    assert entry.after["revoked_because"] == "password changed"


def test_a_password_reset_revokes_the_token(operator, token) -> None:
    form = SetPasswordForm(operator, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert form.is_valid(), form.errors
    form.save()

    assert _revoked(token)


def test_the_changepassword_command_revokes_the_token(operator, token, monkeypatch) -> None:
    monkeypatch.setattr(
        "django.contrib.auth.management.commands.changepassword.getpass.getpass",
        lambda prompt="": NEW_PASSWORD,
    )
    call_command("changepassword", "anna")

    assert _revoked(token)


def test_deactivation_revokes_the_token(operator, token, super_admin) -> None:
    operator.is_active = False
    services.user_save(user=operator, actor=super_admin)

    assert _revoked(token)


def test_the_admin_deactivate_action_revokes_the_token(operator, token, super_admin) -> None:
    admin = Client()
    admin.force_login(super_admin)

    admin.post(
        "/admin/accounts/user/",
        {"action": "deactivate_selected", "_selected_action": [operator.pk]},
    )

    operator.refresh_from_db()
    assert not operator.is_active
    assert _revoked(token)


def test_other_saves_and_sign_ins_keep_the_token(operator, token) -> None:
    operator.first_name = "Anna"
    services.user_save(user=operator, actor=None)
    client = Client()
    assert (
        client.post("/accounts/login/", {"username": "anna", "password": PASSWORD}).status_code
        == 302
    )

    assert Token.objects.filter(key=token.key).exists()
    assert _api_status(token.key) == 200


@override_settings(
    PASSWORD_HASHERS=[
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
)
def test_a_password_hash_upgrade_at_sign_in_is_not_a_change(operator, token) -> None:
    stored = User.objects.get(pk=operator.pk).password
    assert stored.startswith("md5$")  # the test settings' hasher; sign-in upgrades it

    answer = Client().post("/accounts/login/", {"username": "anna", "password": PASSWORD})

    assert answer.status_code == 302
    assert User.objects.get(pk=operator.pk).password.startswith("pbkdf2_sha256$")
    assert Token.objects.filter(key=token.key).exists()
