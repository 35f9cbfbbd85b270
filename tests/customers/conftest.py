"""Fixtures for the customers tests: tiers, a back-office client and API clients."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from accounts.models import Role, User
from customers.auth import NewClient, integration_client_create
from customers.models import LoyaltyTier
from tests import factories


@pytest.fixture(autouse=True)
def loyalty_grants(roles: dict[str, Role]) -> None:
    """The built-in roles' loyalty settings, as accounts migration 0003 grants them (a
    transactional test's flush drops migration data; `builtin_roles()` recreates the rest)."""
    Role.objects.filter(slug__in=[Role.ADMIN, Role.SUPER_ADMIN]).update(
        can_adjust_loyalty=True, goodwill_points_limit=5000
    )
    Role.objects.filter(slug=Role.OPERATOR).update(goodwill_points_limit=200)


@pytest.fixture
def tiers(db: None) -> dict[str, LoyaltyTier]:
    return factories.make_tiers()


@pytest.fixture
def backoffice(db: None) -> NewClient:
    return integration_client_create(name="CRM")


@pytest.fixture
def crm(backoffice: NewClient) -> APIClient:
    """The back office, calling with its client token."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {backoffice.token}")
    return client


@pytest.fixture
def api() -> Callable[[User | None], APIClient]:
    def client_for(user: User | None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_login(user)
        return client

    return client_for


# The browser fixtures of tests/e2e, for the card's own end-to-end test.
from tests.e2e.conftest import (  # noqa: E402, F401
    asgi_server,
    axe_violations,
    browser,
    live_page,
    playwright,
)
