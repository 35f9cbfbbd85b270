"""The wallboard's TV mode in Chromium: a floor of 6 teams and 40 operators fits a
1920×1080 and a 1280×720 screen without scrolling or cut text, in English and Russian, with no
serious accessibility violation; the board follows a new conversation live; Esc leaves it."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.utils import translation
from playwright.sync_api import Browser, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from accounts.models import OperatorProfile, Role, Team, User
from accounts.services import operator_busy_set, presence_set
from chats.models import Inbox
from tests import factories
from tests.e2e import test_csp as csp
from tests.e2e.conftest import Violations, _wait_until_idle, server_busy
from tests.e2e.test_inbox import in_thread
from tests.e2e.test_login import describe, sign_in

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators"),
]

TEAMS = (
    "Support",
    "Delivery",
    "Returns and refunds",
    "Loyalty programme",
    "Corporate clients",
    "Night shift",
)
FIRST = ("Анна", "Борис", "Вера", "Глеб", "Дарья", "Егор", "Жанна", "Захар", "Ирина", "Кирилл")
LAST = ("Иванова", "Смирнов", "Кузнецова", "Попов", "Соколова", "Константинопольская", "Лебедев")
# Screenshots for a reviewer, not committed.
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
STATES = (
    OperatorProfile.Presence.ONLINE,
    OperatorProfile.Presence.ONLINE,
    OperatorProfile.Presence.AWAY,
    OperatorProfile.Presence.OFFLINE,
)

# Records when the page's sockets are open, so the test waits on that, not on a clock.
SOCKET_PROBE = """
(() => {
  const Native = window.WebSocket;
  window.__socketsOpen = 0;
  window.WebSocket = function (...args) {
    const ws = new Native(...args);
    ws.addEventListener("open", () => { window.__socketsOpen += 1; });
    return ws;
  };
  window.WebSocket.prototype = Native.prototype;
  Object.assign(window.WebSocket, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
})();
"""

# Every piece of text on the board that is shown: is it inside the screen, inside its tile and
# its agents' list, and not overflowing its own box (cut or ellipsised)?
CUT_TEXT = """
() => {
  const cut = [];
  const vw = window.innerWidth, vh = window.innerHeight;
  for (const el of document.querySelectorAll("#wallboard-tv *")) {
    if (el.closest("[hidden], .visually-hidden")) continue;
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own) continue;
    const r = el.getBoundingClientRect();
    const say = why => cut.push(`${why}: ${el.className} "${el.textContent.trim().slice(0, 40)}"`);
    if (r.width === 0 || r.height === 0) { say("no box"); continue; }
    if (r.left < 0 || r.top < 0 || r.right > vw + 0.5 || r.bottom > vh + 0.5) say("off screen");
    if (el.clientWidth && el.scrollWidth > el.clientWidth + 1) say("too wide");
    if (el.clientHeight && el.scrollHeight > el.clientHeight + 1) say("too tall");
    for (const sel of [".wb-agents", ".wb-tile"]) {
      const box = el.closest(sel);
      if (box && box !== el) {
        const b = box.getBoundingClientRect();
        if (r.bottom > b.bottom + 0.5 || r.right > b.right + 0.5) say(`outside ${sel}`);
      }
    }
  }
  return cut;
}
"""


def floor(language: str = "") -> dict[str, Any]:
    """6 teams, 40 operators in every state, queues in two teams, and a supervisor who reads
    the product in `language` (empty: the browser's)."""
    teams = [factories.make_team(name) for name in TEAMS]
    Team.objects.update(auto_assign=False)  # the queues stay as built
    inboxes = {t.name: factories.make_inbox(name=f"{t.name} chat", team=t) for t in teams}
    for i in range(40):
        user = factories.make_user(
            username=f"op{i:02d}",
            first_name=FIRST[i % len(FIRST)],
            last_name=LAST[i % len(LAST)],
            teams=[teams[i % len(teams)]],
            max_concurrent_conversations=4,
        )
        presence = STATES[i % len(STATES)]
        if presence != OperatorProfile.Presence.OFFLINE:
            presence_set(user=user, presence=presence)
        if i % 9 == 0:
            operator_busy_set(user_id=user.pk, weight=1)
    for _ in range(3):
        factories.make_conversation(inbox=inboxes["Delivery"], text="Где мой заказ?")
    factories.make_conversation(inbox=inboxes["Night shift"], text="Алло?")
    factories.make_user(username="pavel", role=Role.ADMIN, language=language)
    return {"teams": teams, "inboxes": inboxes}


@pytest.fixture
def tv_page(browser: Browser, asgi_server: str, transactional_db: None) -> Iterator[Callable]:
    """Pages of a given size and language against the ASGI server (WebSockets work)."""
    contexts = []
    before = server_busy(asgi_server)

    def open_page(width: int, height: int, locale: str = "en-US", **options: Any) -> Page:
        context = browser.new_context(
            base_url=asgi_server,
            locale=locale,
            viewport={"width": width, "height": height},
            **options,
        )
        contexts.append(context)
        return context.new_page()

    try:
        yield open_page
    finally:
        for context in contexts:
            context.close()
        _wait_until_idle(asgi_server, before)


def open_tv(page: Page, tv_link: str) -> None:
    sign_in(page, "pavel")
    page.goto("/statistics/wallboard/")
    page.get_by_role("link", name=tv_link).click()
    expect(page).to_have_url(re.compile(r"/statistics/wallboard/tv/$"))
    expect(page.locator(".wb-tile")).to_have_count(6)


@pytest.mark.parametrize(
    ("width", "height", "language"),
    [(1920, 1080, "en"), (1280, 720, "en"), (1920, 1080, "ru"), (1280, 720, "ru")],
)
def test_tv_mode_fits_the_screen_without_scrolling_or_cut_text(
    tv_page, axe_violations, width: int, height: int, language: str
) -> None:
    in_thread(lambda: floor(language))  # the supervisor's own language, from their profile
    page = tv_page(width, height)
    with translation.override(language):
        open_tv(page, translation.gettext("TV mode"))
    expect(page.locator("html")).to_have_attribute("lang", language)

    # no site header or navigation: the board is the whole screen
    expect(page.locator(".topbar")).to_have_count(0)
    expect(page.locator("nav")).to_have_count(0)
    # The board pages each tile's agents at DOMContentLoaded (its scripts are deferred: the
    # click's navigation may not be there yet) and again after each live refresh, which
    # htmx settles a moment after the swap. So: the page loaded, then a short wait for it to
    # fit, well under the board's 10 s refresh (which must not get to rescue a first layout
    # that failed); a board that does not fit fails below, with its size.
    page.wait_for_load_state("load")
    fits = """() => document.documentElement.scrollHeight <= window.innerHeight
                    && document.documentElement.scrollWidth <= window.innerWidth"""
    with contextlib.suppress(PlaywrightTimeoutError):
        page.wait_for_function(fits, timeout=3_000)
    size = page.evaluate(
        """() => ({sh: document.documentElement.scrollHeight,
                   sw: document.documentElement.scrollWidth,
                   ih: window.innerHeight, iw: window.innerWidth})"""
    )
    assert size["sh"] <= size["ih"] and size["sw"] <= size["iw"], size
    for tile in page.locator(".wb-tile").all():
        expect(tile).to_be_in_viewport(ratio=1)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"wallboard-tv-{width}x{height}-{language}.png")
    assert page.evaluate(CUT_TEXT) == []
    # Every agent is on the board: shown now, or on a later page of their tile.
    agents = page.locator(".wb-agent:not(.wb-none)")
    names = {agents.nth(i).get_attribute("data-agent") for i in range(agents.count())}
    assert len(names) == 40, sorted(names)
    assert page.locator(".wb-agent:not(.wb-none):not([hidden])").count() > 0

    violations: Violations = axe_violations(page)
    assert violations == [], describe(violations)


def test_the_board_follows_a_new_conversation_live(tv_page) -> None:
    made = in_thread(floor)
    page = tv_page(1280, 720)
    page.add_init_script(SOCKET_PROBE)
    console = csp.watch(page)
    sign_in(page, "pavel")
    page.goto("/statistics/wallboard/tv/")
    waiting = page.locator('.wb-tile[data-team="Support"] [data-kpi="waiting"] dd')
    expect(waiting).to_have_text("0")

    page.wait_for_function("() => window.__socketsOpen > 0")
    inbox: Inbox = made["inboxes"]["Support"]
    in_thread(lambda: factories.make_conversation(inbox=inbox, text="Есть кто?"))
    expect(waiting).to_have_text("1")
    expect(
        page.locator('.wb-tile[data-team="Support"] [data-kpi="longest_wait"] dd')
    ).not_to_have_text("—")
    assert csp.violations(page, console) == []  # no inline script or style was needed


def test_the_exit_shows_on_focus_and_esc_leaves_tv_mode(tv_page) -> None:
    in_thread(floor)
    page = tv_page(1280, 720)
    sign_in(page, "pavel")
    page.goto("/statistics/wallboard/tv/")
    exit_link = page.get_by_role("link", name="Exit TV mode (Esc)")
    expect(exit_link).not_to_be_in_viewport()
    page.keyboard.press("Tab")
    expect(exit_link).to_be_focused()
    expect(exit_link).to_be_in_viewport(ratio=1)

    page.keyboard.press("Escape")
    expect(page).to_have_url(re.compile(r"/statistics/wallboard/$"))
    expect(page.locator(".topbar")).to_be_visible()


def test_without_javascript_the_board_is_whole_and_reloads_itself(tv_page) -> None:
    in_thread(floor)
    page = tv_page(1280, 720, java_script_enabled=False)
    sign_in(page, "pavel")
    page.goto("/statistics/wallboard/tv/")
    expect(page.locator(".wb-tile")).to_have_count(6)
    expect(page.locator('.wb-tile[data-team="Delivery"] [data-kpi="waiting"] dd')).to_have_text("3")
    refresh = page.locator('noscript meta[http-equiv="refresh"], meta[http-equiv="refresh"]')
    assert refresh.count() == 1
    size = page.evaluate(
        "() => [document.documentElement.scrollHeight <= innerHeight,"
        " document.documentElement.scrollWidth <= innerWidth]"
    )
    assert size == [True, True]


def test_a_team_lead_sees_only_their_team(tv_page) -> None:
    in_thread(floor)

    def lead() -> User:
        role = factories.make_role(
            name="Team lead", slug="team-lead", scope=Role.Scope.TEAMS, can_view_statistics=True
        )
        return factories.make_user(
            username="lena", role=role, teams=[Team.objects.get(name="Delivery")]
        )

    in_thread(lead)
    page = tv_page(1280, 720)
    sign_in(page, "lena")
    page.goto("/statistics/wallboard/tv/")
    expect(page.locator(".wb-tile")).to_have_count(1)
    expect(page.locator(".wb-tile")).to_have_attribute("data-team", "Delivery")


def test_a_crowded_team_turns_pages_of_agents_instead_of_scrolling(tv_page, settings) -> None:
    settings.WALLBOARD_ROTATE_SECONDS = 5  # the server thread reads the same settings

    def crowd() -> None:
        support, delivery = factories.make_team("Support"), factories.make_team("Delivery")
        for i in range(36):
            factories.make_user(
                username=f"op{i:02d}",
                first_name=FIRST[i % len(FIRST)],
                last_name=f"{LAST[i % len(LAST)]} {i}",
                teams=[support],
            )
        factories.make_user(username="dina", teams=[delivery])
        factories.make_user(username="pavel", role=Role.ADMIN)

    in_thread(crowd)
    page = tv_page(1280, 720)
    sign_in(page, "pavel")
    page.goto("/statistics/wallboard/tv/")
    support = page.locator('.wb-tile[data-team="Support"]')
    more = support.locator("[data-wb-more]")
    expect(more).to_have_text(re.compile(r"1\D+\d"))  # "page 1 of n"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "wallboard-tv-crowded-1280x720-en.png")
    assert page.evaluate(CUT_TEXT) == []
    assert page.evaluate(
        "() => document.documentElement.scrollHeight <= innerHeight"
        " && document.documentElement.scrollWidth <= innerWidth"
    )
    first = support.locator(".wb-agent:not([hidden])").first.inner_text()

    # the next page of agents comes round by itself
    expect(more).to_have_text(re.compile(r"2\D+\d"), timeout=15_000)
    assert support.locator(".wb-agent:not([hidden])").first.inner_text() != first
    assert page.evaluate(CUT_TEXT) == []
