"""Screenshots of the product as `make run` shows it, for a reviewer to look at: the inbox, a
thread, the customer card, the statistics and the wallboard at 1440×900, saved as PNG files
under tests/e2e/artifacts/ (not committed; CI keeps them as artefacts).

The data is `seed_demo` with a week of history (`make run` plays 30 days; a week keeps the
run short and fills every chart). Each test first waits until the screen shows what it is for,
then checks the file: a PNG of the expected size with real content in it.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.demo_site import VIEWPORT, Demo, Sessions, demo_database, set_preferences

pytestmark = [
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators"),
]

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
MIN_BYTES = 30_000  # a blank or half-drawn page compresses to far less


@pytest.fixture
def db() -> None:
    """Not pytest-django's: only says that these tests use the test database, whose demo data
    is committed once for the module (`demo`), with no transaction or flush around each test."""


@pytest.fixture(scope="module")
def demo(django_db_setup: None, django_db_blocker: Any, asgi_server: str) -> Iterator[Demo]:
    with demo_database(django_db_blocker, asgi_server, history=7) as data:
        for username in ("anna", "admin"):
            set_preferences(username, language="en", high_contrast=False)
        yield data


@pytest.fixture(scope="module")
def sessions(browser: Browser, asgi_server: str, demo: Demo) -> Iterator[Sessions]:
    ARTIFACTS.mkdir(exist_ok=True)
    sessions = Sessions(browser, asgi_server)
    yield sessions
    sessions.close()


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    return struct.unpack(">II", header[16:24])


def saved(path: Path, size: tuple[int, int] | None = (VIEWPORT["width"], VIEWPORT["height"])):
    assert path.is_file(), path
    assert path.stat().st_size > MIN_BYTES, f"{path.name}: {path.stat().st_size} bytes"
    if size:
        assert png_size(path) == size


def workspace(page: Page, path: str) -> None:
    page.goto(path)
    expect(page.locator("#workspace")).to_have_attribute("data-live", "live")


def conversation(page: Page, demo: Demo) -> None:
    workspace(page, f"/inbox/c/{demo.card}/")
    expect(page.locator("#thread-log .msg").first).to_be_visible()
    expect(page.locator("#customer-card .card-allergies")).to_be_visible()
    expect(page.locator("#customer-card")).not_to_have_attribute("aria-busy", "true")


def test_the_inbox(db: None, sessions: Sessions, demo: Demo) -> None:
    page = sessions.page("anna")
    workspace(page, "/inbox/")
    expect(page.locator("#list li[data-conversation-id]").first).to_be_visible()
    expect(page.get_by_role("link", name="Mine")).to_have_attribute("aria-current", "page")

    page.screenshot(path=ARTIFACTS / "inbox.png")

    saved(ARTIFACTS / "inbox.png")


def test_a_thread(db: None, sessions: Sessions, demo: Demo) -> None:
    page = sessions.page("anna")
    conversation(page, demo)
    expect(page.locator("#thread-heading")).to_be_visible()

    page.screenshot(path=ARTIFACTS / "thread.png")

    saved(ARTIFACTS / "thread.png")


def test_the_customer_card(db: None, sessions: Sessions, demo: Demo) -> None:
    page = sessions.page("anna")
    conversation(page, demo)
    card = page.locator("#customer-card")
    expect(card.locator(".card-allergies")).to_contain_text(re.compile(r"\S"))

    card.screenshot(path=ARTIFACTS / "card.png")

    box = card.bounding_box()
    assert box is not None
    saved(ARTIFACTS / "card.png", size=None)
    width, height = png_size(ARTIFACTS / "card.png")
    assert abs(width - box["width"]) <= 1 and abs(height - box["height"]) <= 1  # the whole card


def statistics_drawn(page: Page) -> None:
    conversations = page.locator(".kpi-card .kpi-value").first  # the week had conversations
    expect(conversations).to_have_text(re.compile(r"^\s*[1-9]"))
    expect(page.locator("#trend-table tbody tr").first).to_be_attached()
    expect(page.locator("#heatmap")).to_be_visible()


def wallboard_drawn(page: Page) -> None:
    expect(page.locator("#wallboard .kpi-card").first).to_be_visible()
    expect(page.locator("#wallboard-teams")).to_be_visible()


@pytest.mark.parametrize(
    ("name", "path", "drawn"),
    [
        ("statistics", "/statistics/", statistics_drawn),
        ("wallboard", "/statistics/wallboard/", wallboard_drawn),
    ],
)
def test_the_statistics(
    db: None,
    sessions: Sessions,
    demo: Demo,
    name: str,
    path: str,
    drawn: Callable[[Page], None],
) -> None:
    page = sessions.page("admin")
    response = page.goto(path)
    assert response is not None and response.status == 200
    drawn(page)

    page.screenshot(path=ARTIFACTS / f"{name}.png")

    saved(ARTIFACTS / f"{name}.png")
