"""axe-core on every screen of the product: no serious or critical violation on any operator,
admin, statistics, wallboard or widget page, in English, in Russian and with the high-contrast
theme. Each test names its screen and variant (e.g. `test_screen[call-pop-ru]`), and a failure
lists the rule, the element and what to fix.

The data is the demo installation (`seed_demo`, two days of history), seeded once for the
module (tests/e2e/demo_site.py); the pages are served by the real ASGI app, so the workspace is
live over its socket as it is in use.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import _axe_violations
from tests.e2e.demo_site import Demo, Sessions, demo_database, set_preferences
from tests.e2e.test_inbox import in_thread

pytestmark = [
    # WhiteNoise hands static files to Django's ASGI handler as a synchronous iterator.
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators"),
]

_calls = itertools.count(1)


@dataclass(frozen=True)
class Screen:
    name: str
    user: str  # "" for a visitor who is not signed in
    path: Callable[[Demo], str]
    ready: Callable[[Page], None]  # waits until the screen shows what it is for
    status: int = 200
    act: Callable[[Page, Demo], Callable[[], None] | None] | None = None  # opens a part


def heading(page: Page) -> None:
    expect(page.get_by_role("heading", level=1).first).to_be_visible()


def live(then: Callable[[Page], None] | None = None) -> Callable[[Page], None]:
    """A workspace page: its socket is connected and subscribed, and then `then`."""

    def wait(page: Page) -> None:
        expect(page.locator("#workspace")).to_have_attribute("data-live", "live")
        if then:
            then(page)

    return wait


def shows(selector: str) -> Callable[[Page], None]:
    def wait(page: Page) -> None:
        expect(page.locator(selector).first).to_be_visible()

    return wait


def the_card(page: Page) -> None:
    expect(page.locator("#customer-card .card-allergies")).to_be_visible()
    expect(page.locator("#customer-card")).not_to_have_attribute("aria-busy", "true")


def ring(page: Page, demo: Demo) -> Callable[[], None]:
    """A known customer's call rings anna's phone: the call-pop opens. Returns the hang-up."""
    from telephony.services import call_event_apply
    from tests.telephony.simulator import queue_call

    events = queue_call(caller=demo.caller, linkedid=f"1700000{next(_calls):03d}.1", answered=False)
    ringing = next(i for i, e in enumerate(events) if e["Event"] == "DialBegin") + 1

    def apply(part: list[dict[str, object]]) -> None:
        for fields in part:
            call_event_apply(pbx_id=demo.pbx, fields={k: str(v) for k, v in fields.items()})

    in_thread(lambda: apply(events[:ringing]))
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator(".card-allergies")).to_be_visible()
    expect(dialog.locator("#callpop-body")).not_to_have_attribute("aria-busy", "true")
    return lambda: in_thread(lambda: apply(events[ringing:]))  # the caller gives up


def open_forms(page: Page, demo: Demo) -> None:
    """The folded forms of the thread and the card (snooze, transfer, delete, goodwill) are
    checked open."""
    summaries = page.locator("#workspace details:not([open]) > summary")
    for _ in range(summaries.count()):
        summaries.nth(0).click()  # an opened one leaves the selection
    expect(page.locator("#workspace details:not([open])")).to_have_count(0)


def open_widget(page: Page, demo: Demo) -> None:
    widget = page.locator("#smartdesk-widget")
    launcher = widget.locator("button.launch")
    launcher.click()
    expect(launcher).to_have_attribute("aria-expanded", "true")
    expect(widget.locator("textarea")).to_be_visible()


def statistics_with_data(page: Page) -> None:
    expect(page.locator(".kpi-card .kpi-value").first).to_have_text(re.compile(r"^\s*[1-9]"))
    expect(page.locator("#export-jobs a[download]")).to_be_visible()  # a finished export


def admin_page(page: Page) -> None:
    expect(page.locator("#content h1, #content h2").first).to_be_visible()


SCREENS = [
    Screen("login", "", lambda d: "/accounts/login/", heading),
    Screen("home", "anna", lambda d: "/", heading),
    Screen("inbox-empty", "elena", lambda d: "/inbox/", live(shows("#list"))),
    Screen("inbox", "anna", lambda d: "/inbox/", live(shows("#list li[data-conversation-id]"))),
    Screen(
        "conversation-card",
        "anna",
        lambda d: f"/inbox/c/{d.card}/",
        live(the_card),
        act=lambda page, demo: open_forms(page, demo),
    ),
    Screen("conversation-snoozed", "anna", lambda d: f"/inbox/c/{d.snoozed}/", live(the_card)),
    Screen("conversation-closed", "anna", lambda d: f"/inbox/c/{d.closed}/", live(the_card)),
    Screen(
        "conversation-deleted",
        "admin",
        lambda d: f"/inbox/c/{d.deleted}/",
        live(shows("#action-restore")),
    ),
    Screen("queue", "admin", lambda d: "/inbox/queue/", heading),
    Screen(
        "statistics-and-exports",
        "admin",
        lambda d: "/statistics/",
        statistics_with_data,
    ),
    Screen("wallboard", "admin", lambda d: "/statistics/wallboard/", heading),
    Screen(
        "wallboard-tv",
        "admin",
        lambda d: "/statistics/wallboard/tv/",
        shows("main"),
    ),
    Screen("preferences", "anna", lambda d: "/accounts/preferences/", heading),
    Screen("call-pop", "anna", lambda d: "/inbox/", live(), act=ring),
    Screen("forbidden", "anna", lambda d: "/admin/", heading, status=403),
    Screen("not-found", "anna", lambda d: "/no-such-page/", heading, status=404),
    Screen("admin-index", "superadmin", lambda d: "/admin/", admin_page),
    Screen("admin-roles", "superadmin", lambda d: "/admin/accounts/role/", admin_page),
    Screen(
        "admin-role", "superadmin", lambda d: f"/admin/accounts/role/{d.role}/change/", admin_page
    ),
    Screen(
        "admin-user", "superadmin", lambda d: f"/admin/accounts/user/{d.user}/change/", admin_page
    ),
    Screen("admin-customers", "superadmin", lambda d: "/admin/customers/customer/", admin_page),
    Screen(
        "admin-customer",
        "superadmin",
        lambda d: f"/admin/customers/customer/{d.customer}/change/",
        admin_page,
    ),
    Screen(
        "widget-demo",
        "admin",
        lambda d: f"/widget/{d.widget_key}/demo/",
        heading,
        act=lambda page, demo: open_widget(page, demo),
    ),
]
VARIANTS = {  # name: (language, high contrast)
    "en": ("en", False),
    "ru": ("ru", False),
    "high-contrast": ("en", True),
}


@pytest.fixture
def db() -> None:
    """Not pytest-django's: only says that these tests use the test database, whose demo data
    is committed once for the module (`demo`), with no transaction or flush around each test."""


@pytest.fixture(scope="module")
def demo(django_db_setup: None, django_db_blocker: Any, asgi_server: str) -> Iterator[Demo]:
    with demo_database(django_db_blocker, asgi_server, history=2) as data:
        yield data


@pytest.fixture(scope="module")
def sessions(browser: Browser, asgi_server: str, demo: Demo) -> Iterator[Sessions]:
    sessions = Sessions(browser, asgi_server)
    yield sessions
    sessions.close()


def describe(violations: list[dict[str, Any]]) -> str:
    """One line per offending element: rule, impact, selector, what axe says to fix."""
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']} <{v['helpUrl']}>")
        for node in v["nodes"]:
            summary = " ".join(node["failureSummary"].split())
            lines.append(f"    at {', '.join(map(str, node['target']))}: {summary}")
    return "\n".join(lines)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("screen", SCREENS, ids=[s.name for s in SCREENS])
def test_screen_has_no_serious_accessibility_violation(
    screen: Screen, variant: str, db: None, demo: Demo, sessions: Sessions
) -> None:
    language, high_contrast = VARIANTS[variant]
    if high_contrast and not screen.user:
        pytest.skip("a visitor has no profile, so no high-contrast theme")
    if screen.user:
        set_preferences(screen.user, language=language, high_contrast=high_contrast)
    page = sessions.page(screen.user, language)

    response = page.goto(screen.path(demo))

    assert response is not None and response.status == screen.status, page.url
    screen.ready(page)
    expect(page.locator("html")).to_have_attribute("lang", language)
    if high_contrast and not screen.name.startswith(("admin-", "widget-")):  # not on base.html
        expect(page.locator("html")).to_have_class(_has("theme-high-contrast"))
    undo = screen.act(page, demo) if screen.act else None
    try:
        violations = _axe_violations(page)
    finally:
        if undo:
            undo()

    assert violations == [], f"{screen.name} ({variant}):\n{describe(violations)}"


def _has(css_class: str) -> Any:
    return re.compile(rf"(^|\s){re.escape(css_class)}(\s|$)")
