"""axe-core on every page of the Django admin: for each registered model, its changelist, its
add page (when the super-admin may add) and the change page of one existing object, in English
and in Russian, with no serious or critical violation. Each test names its model and language
(e.g. `test_admin_model[customers.customer-ru]`); a failure lists every page, rule and element.

High contrast is not a variant here: the admin is Django's own templates
(templates/admin/base_site.html extends them), which never read the operator profile's
`high_contrast` preference nor carry the `theme-high-contrast` class of templates/base.html, so
the admin looks the same with or without it (`test_admin_ignores_high_contrast` pins that down).

The data is the demo installation (tests/e2e/demo_site.py), seeded once for the module; one
signed-in page per language is reused by all tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib import admin
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import _axe_violations
from tests.e2e.demo_site import Demo, Sessions, demo_database, set_preferences
from tests.e2e.test_accessibility import admin_page, describe
from tests.e2e.test_inbox import in_thread

pytestmark = [
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators"),
]

SUPER_ADMIN = "superadmin"  # seed_demo's super-admin (Sofia Orlova)
LANGUAGES = ("en", "ru")
# Models whose changelist the super-admin may not open (403), each with its reason. Empty:
# every registered model is reachable; a new 403 fails the test until it is listed here.
NOT_REACHABLE: dict[str, str] = {}
MODELS = sorted(admin.site._registry, key=lambda model: model._meta.label_lower)


@pytest.fixture
def db() -> None:
    """A no-op like test_accessibility's: the demo data is committed once for the module."""


@pytest.fixture(scope="module")
def demo(django_db_setup: None, django_db_blocker: Any, asgi_server: str) -> Iterator[Demo]:
    with demo_database(django_db_blocker, asgi_server, history=1) as data:
        yield data


@pytest.fixture(scope="module")
def sessions(browser: Browser, asgi_server: str, demo: Demo) -> Iterator[Sessions]:
    sessions = Sessions(browser, asgi_server)
    yield sessions
    sessions.close()


def admin_urls(model: type) -> tuple[str, list[str]]:
    """The model's changelist, then its add page and one object's change page if there are."""
    from django.test import RequestFactory
    from django.urls import reverse

    from accounts.models import User

    def find() -> tuple[str, list[str]]:
        model_admin = admin.site._registry[model]
        request = RequestFactory().get("/admin/")
        request.user = User.objects.get(username=SUPER_ADMIN)
        name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        more = []
        if model_admin.has_add_permission(request):
            more.append(reverse(f"{name}_add"))
        obj = model_admin.get_queryset(request).order_by("pk").first()
        if obj is not None:
            more.append(reverse(f"{name}_change", args=[obj.pk]))
        return reverse(f"{name}_changelist"), more

    return in_thread(find)


def check(page: Page, url: str, language: str) -> list[dict[str, Any]]:
    """Axe on the admin page at `url`, opened unless the page is already there."""
    if not page.url.endswith(url):
        response = page.goto(url)
        assert response is not None and response.status == 200, f"{url}: {response.status}"
    admin_page(page)
    expect(page.locator("html")).to_have_attribute("lang", language)
    return _axe_violations(page)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("model", MODELS, ids=[m._meta.label_lower for m in MODELS])
def test_admin_model(model: type, language: str, db: None, demo: Demo, sessions: Sessions) -> None:
    label = model._meta.label_lower
    set_preferences(SUPER_ADMIN, language=language, high_contrast=False)
    page = sessions.page(SUPER_ADMIN, language)
    changelist, more = admin_urls(model)

    response = page.goto(changelist)
    assert response is not None
    if label in NOT_REACHABLE:
        assert response.status == 403, f"{label} is listed as not reachable but is"
        pytest.skip(NOT_REACHABLE[label])
    assert response.status == 200, f"{changelist}: {response.status}"

    failures = []
    for url in [changelist, *more]:
        violations = check(page, url, language)
        if violations:
            failures.append(f"{url}:\n{describe(violations)}")

    assert failures == [], f"{label} ({language}):\n" + "\n".join(failures)


def test_admin_ignores_high_contrast(db: None, demo: Demo, sessions: Sessions) -> None:
    """Why there is no high-contrast variant above: the admin has no such theme."""
    set_preferences(SUPER_ADMIN, language="en", high_contrast=True)
    try:
        page = sessions.page(SUPER_ADMIN, "en")
        page.goto("/admin/")
        admin_page(page)
        assert "theme-high-contrast" not in (page.locator("html").get_attribute("class") or "")
        assert page.locator(".theme-high-contrast").count() == 0
    finally:
        set_preferences(SUPER_ADMIN, language="en", high_contrast=False)
