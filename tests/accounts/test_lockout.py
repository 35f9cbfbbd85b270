"""Sign-in throttling: five wrong passwords are allowed, the sixth locks the
username (from any address) and the address (for any username); while locked the right
password is refused too; the lockout is in axes' tables (the admin) and in our audit trail."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.test import Client, override_settings

from accounts.models import AccessAuditEntry
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"


def _sign_in(client: Client, username: str, password: str, ip: str = "198.51.100.7", **extra):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip, **extra)


def _signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_five_wrong_passwords_then_the_right_one_signs_in(client, operator) -> None:
    for _ in range(5):
        assert _sign_in(client, "anna", "wrong").status_code == 200

    answer = _sign_in(client, "anna", PASSWORD)

    assert answer.status_code == 302
    assert _signed_in(client)


def test_the_sixth_wrong_password_locks_and_the_right_one_is_refused(client, operator) -> None:
    for _ in range(5):
        assert _sign_in(client, "anna", "wrong").status_code == 200

    sixth = _sign_in(client, "anna", "wrong")
    assert sixth.status_code == 429
    assert "Sign-in locked" in sixth.content.decode()

    right = _sign_in(client, "anna", PASSWORD)
    assert right.status_code == 429
    assert not _signed_in(client)
    assert "Retry-After" in right

    # In axes' tables (shown in the admin) ...
    attempt = AccessAttempt.objects.get(username="anna")
    assert attempt.failures_since_start >= 6
    assert AccessFailureLog.objects.filter(username="anna", locked_out=True).exists()
    # ... and once in the access audit trail of the user, however often it is hit.
    entries = AccessAuditEntry.objects.filter(
        target_type=AccessAuditEntry.Target.USER, target_id=operator.pk, after__sign_in_locked=True
    )
    assert entries.count() == 1
    assert entries.get().after["ip_address"] == "198.51.100.7"


def test_a_success_from_the_same_address_does_not_wipe_another_usernames_failures(
    client, operator, teammate
) -> None:
    """Guessing `anna`'s password five times, then signing into one's own account from the
    same address, must not reset `anna`'s count: otherwise guessing is unlimited."""
    for _ in range(5):
        _sign_in(client, "anna", "wrong")
    assert _sign_in(Client(), "boris", PASSWORD).status_code == 302

    assert _sign_in(client, "anna", "wrong").status_code == 429
    assert _sign_in(Client(), "anna", PASSWORD, ip="192.0.2.99").status_code == 429


def test_the_lock_follows_the_username_to_another_address(client, operator) -> None:
    for n in range(6):
        _sign_in(client, "anna", "wrong", ip=f"203.0.113.{n + 1}")

    assert _sign_in(Client(), "anna", PASSWORD, ip="192.0.2.99").status_code == 429


def test_the_lock_follows_the_address_to_another_username(client, operator, teammate) -> None:
    for n in range(6):
        _sign_in(client, f"nobody{n}", "wrong", ip="203.0.113.50")

    locked = _sign_in(Client(), "boris", PASSWORD, ip="203.0.113.50")
    other = _sign_in(Client(), "boris", PASSWORD, ip="203.0.113.51")

    assert locked.status_code == 429
    assert other.status_code == 302


def test_the_lockout_page_is_translated(client, operator) -> None:
    for _ in range(6):
        _sign_in(client, "anna", "wrong")

    page = _sign_in(client, "anna", PASSWORD, HTTP_ACCEPT_LANGUAGE="ru")

    assert page.status_code == 429
    assert 'lang="ru"' in page.content.decode()


def test_an_api_caller_gets_json(client, operator) -> None:
    for _ in range(6):
        _sign_in(client, "anna", "wrong")

    answer = _sign_in(client, "anna", PASSWORD, HTTP_ACCEPT="application/json")

    assert answer.status_code == 429
    assert answer.json()["code"] == "locked_out"


def test_the_admin_login_is_the_throttled_page(client) -> None:
    # The admin has no login form of its own that could skip the throttle.
    answer = client.post("/admin/login/", {"username": "x", "password": "y"})

    assert answer.status_code == 302
    assert answer["Location"].startswith(LOGIN)


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_behind_a_proxy_the_address_the_proxy_saw_counts(client, operator) -> None:
    for n in range(6):  # the client forges a different left-most address each time
        _sign_in(
            client,
            f"nobody{n}",
            "wrong",
            ip="10.0.0.1",
            HTTP_X_FORWARDED_FOR=f"1.2.3.{n}, 203.0.113.77",
        )

    answer = _sign_in(
        Client(), "anna", PASSWORD, ip="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.77"
    )
    assert answer.status_code == 429


def test_a_superuser_sees_the_attempts_in_the_admin(client, operator, super_admin) -> None:
    for _ in range(6):
        _sign_in(client, "anna", "wrong")
    admin = Client()
    admin.force_login(super_admin)

    page = admin.get("/admin/axes/accessattempt/")

    assert page.status_code == 200
    assert "anna" in page.content.decode()
