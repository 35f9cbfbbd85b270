"""Signing in and out through the real UI, the admin gate, and accessibility of those screens."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from accounts.models import User
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

LOGIN_URL = re.compile(r"/accounts/login/(\?.*)?$")

AxeViolations = Callable[..., list[dict[str, Any]]]


def sign_in(page: Page, username: str, password: str = PASSWORD) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def describe(violations: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']} at {node['target']}: {node['failureSummary']}"
        for v in violations
        for node in v["nodes"]
    )


def test_an_operator_signs_in_sees_their_workspace_and_signs_out(
    page: Page, operator: User
) -> None:
    sign_in(page, "anna")

    expect(page).to_have_url(re.compile(r"/inbox/$"))  # operators land in their inbox
    page.get_by_role("link", name="Workspace").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Hello, {operator}")
    expect(page.locator(".facts dt:text-is('Role') + dd")).to_have_text("Operator")

    page.get_by_role("button", name="Sign out").click()

    expect(page).to_have_url(LOGIN_URL)
    expect(page.get_by_role("heading", name="Sign in to Smartdesk")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)


def test_a_wrong_password_shows_an_error_and_stays_on_the_login_page(
    page: Page, operator: User
) -> None:
    sign_in(page, "anna", password="not-the-password")

    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.get_by_role("alert")).not_to_be_empty()
    expect(page).to_have_url(LOGIN_URL)
    expect(page.get_by_role("heading", name="Sign in to Smartdesk")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)


def test_an_operator_is_not_allowed_into_the_admin(page: Page, operator: User) -> None:
    sign_in(page, "anna")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    response = page.goto("/admin/")

    assert response is not None
    assert response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")
    expect(page.get_by_role("link", name="Roles")).to_have_count(0)


def test_a_super_admin_reaches_the_admin(page: Page, super_admin: User) -> None:
    sign_in(page, "sofia")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    response = page.goto("/admin/")

    assert response is not None
    assert response.status == 200
    expect(page.get_by_role("link", name="Roles", exact=True)).to_be_visible()


def test_the_login_page_has_no_serious_accessibility_violation(
    page: Page, axe_violations: AxeViolations
) -> None:
    page.goto("/accounts/login/")
    expect(page.get_by_role("heading", name="Sign in to Smartdesk")).to_be_visible()

    violations = axe_violations(page)

    assert violations == [], describe(violations)


def test_the_home_page_has_no_serious_accessibility_violation(
    page: Page, operator: User, axe_violations: AxeViolations
) -> None:
    sign_in(page, "anna")
    expect(page).to_have_url(re.compile(r"/inbox/$"))
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Hello, {operator}")

    violations = axe_violations(page)

    assert violations == [], describe(violations)
