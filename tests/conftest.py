"""Shared personas: every access-controlled entry point is tried with each of them.

- super_admin: the built-in super-admin role (manages roles and users)
- admin_user: the built-in admin role (scope all, statistics, admin site, no access management)
- operator: the built-in operator role, member of `support`
- teammate: another operator in `support`
- outsider: an operator in `delivery` only
"""

from __future__ import annotations

import pytest

from accounts.models import Role, Team, User
from tests import factories


@pytest.fixture(scope="session", autouse=True)
def _fresh_cache() -> None:
    """Start each run with an empty cache (rate-limit buckets and the like left by an earlier
    run would otherwise leak into this one). Each xdist worker's cache has its own Redis
    database (smartdesk/settings_test.py), so this clears nobody else's."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _own_channel_layer() -> None:
    """Each test gets its own channel-layer instance. channels-redis binds an instance's
    receive to the event loop that first uses it: the session's ASGI server (e2e tests, in a
    thread with its own loop) and an in-process consumer test (async_to_sync, another loop)
    on one instance fail with "Two event loops are trying to receive() on one channel layer
    at once!" whenever a socket of the server is still open. Sockets already open keep the
    instance they took at connect; everything else takes a fresh one."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()


@pytest.fixture(autouse=True)
def _fresh_rows() -> None:
    """Each test renders its list rows afresh: rendered rows are kept per process
    (chats.views.presenters.rows), and a test that counts renders must not see another's."""
    from chats.views.presenters.rows import forget_rendered

    forget_rendered()


@pytest.fixture
def roles(db: None) -> dict[str, Role]:
    return factories.builtin_roles()


@pytest.fixture
def support(db: None) -> Team:
    return factories.make_team("Support")


@pytest.fixture
def delivery(db: None) -> Team:
    return factories.make_team("Delivery")


@pytest.fixture
def super_admin(roles: dict[str, Role]) -> User:
    return factories.make_user(username="sofia", role=roles[Role.SUPER_ADMIN])


@pytest.fixture
def admin_user(roles: dict[str, Role], support: Team, delivery: Team) -> User:
    return factories.make_user(username="pavel", role=roles[Role.ADMIN], teams=[support, delivery])


@pytest.fixture
def reporter(support: Team) -> User:
    """BI: sees every conversation, call and card to report on and export them; acts on
    nothing (no `handle_conversations`)."""
    role = factories.make_role(
        name="BI",
        slug="bi",
        scope=Role.Scope.ALL,
        can_view_statistics=True,
        can_export_reports=True,
        can_view_customer_pii=True,
        can_handle_conversations=False,
    )
    return factories.make_user(username="bianca", role=role, teams=[support])


@pytest.fixture
def operator(roles: dict[str, Role], support: Team) -> User:
    return factories.make_user(username="anna", role=roles[Role.OPERATOR], teams=[support])


@pytest.fixture
def teammate(roles: dict[str, Role], support: Team) -> User:
    return factories.make_user(username="boris", role=roles[Role.OPERATOR], teams=[support])


@pytest.fixture
def outsider(roles: dict[str, Role], delivery: Team) -> User:
    return factories.make_user(username="vera", role=roles[Role.OPERATOR], teams=[delivery])


@pytest.fixture
def support_inbox(support: Team):
    return factories.make_inbox(name="Website API", team=support)


@pytest.fixture
def delivery_inbox(delivery: Team):
    return factories.make_inbox(name="Courier app", team=delivery)
