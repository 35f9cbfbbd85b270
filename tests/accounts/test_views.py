from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import OperatorProfile
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_pages_need_a_signed_in_user(client) -> None:
    for url in ("/", "/accounts/preferences/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_login_with_a_wrong_password_stays_on_the_form(client, operator) -> None:
    response = client.post("/accounts/login/", {"username": "anna", "password": "nope"})

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    ok = client.post("/accounts/login/", {"username": "anna", "password": PASSWORD})
    assert ok.status_code == 302


def test_the_home_page_shows_role_and_teams(operator) -> None:
    page = _client(operator).get("/").content.decode()

    assert "Operator" in page
    assert "Support" in page


def test_preferences_are_saved_and_applied_to_every_page(operator) -> None:
    client = _client(operator)
    response = client.post(
        "/accounts/preferences/",
        {
            "language": "ru",
            "time_zone": "Asia/Yekaterinburg",
            "font_scale": "130",
            "high_contrast": "on",
            "reduced_motion": "on",
        },
    )

    assert response.status_code == 302
    profile = OperatorProfile.objects.get(user=operator)
    assert (profile.language, profile.time_zone, profile.font_scale) == (
        "ru",
        "Asia/Yekaterinburg",
        130,
    )
    page = client.get("/").content.decode()
    assert '<html lang="ru"' in page
    assert 'class="font-130 theme-high-contrast reduce-motion"' in page
    assert "Выйти" in page  # the Russian catalogue is served


def test_bad_preferences_get_a_400_with_the_reason_and_change_nothing(operator) -> None:
    response = _client(operator).post(
        "/accounts/preferences/",
        {"language": "xx", "time_zone": "Mars/Olympus", "font_scale": "999"},
    )

    assert response.status_code == 400
    assert b"field-error" in response.content
    profile = OperatorProfile.objects.get(user=operator)
    assert (profile.language, profile.time_zone, profile.font_scale) == ("", "UTC", 100)


def test_anonymous_visitors_get_the_language_of_their_browser(client) -> None:
    page = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "Войти" in page
    page = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Sign in" in page


def test_the_api_says_who_the_caller_is(operator, support) -> None:
    data = _client(operator).get("/api/v1/me/").json()

    assert data["username"] == "anna"
    assert (data["role"], data["scope"], data["capabilities"]) == (
        "operator",
        "teams",
        ["handle_conversations"],
    )
    assert data["teams"] == [{"id": support.pk, "name": "Support"}]


def test_the_api_accepts_a_token_and_refuses_anonymous_callers(client, admin_user) -> None:
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=admin_user)

    assert client.get("/api/v1/me/").status_code in (401, 403)
    data = client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {token.key}").json()
    assert "view_statistics" in data["capabilities"]


def test_the_openapi_schema_and_docs_are_served(client, operator) -> None:
    client.force_login(operator)
    schema = client.get("/api/v1/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/me/" in schema.content
    assert client.get("/api/v1/docs/").status_code == 200
