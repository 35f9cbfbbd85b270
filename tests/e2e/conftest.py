"""End-to-end fixtures: the real UI in Debian's headless Chromium, driven by Playwright.

Playwright never downloads a browser here: it always launches /usr/bin/chromium. Pages talk to
pytest-django's `live_server` (which serves static files), so these tests need a transactional
database; the personas from tests/conftest.py recreate the built-in roles after each flush.

`live_page` talks instead to `asgi_server`: the real ASGI application (HTTP and WebSockets)
under uvicorn in a background thread. It shares the test database and the Redis channel
layer, so an event a service publishes in the test thread reaches the browser's socket.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

E2E_DIR = Path(__file__).resolve().parent
AXE_JS = E2E_DIR.parents[1] / "static" / "vendor" / "axe-core" / "axe.min.js"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

Violations = list[dict[str, Any]]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(E2E_DIR):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    # Playwright's sync API keeps an event loop running in the test thread, so Django would
    # refuse the ORM calls the test itself makes (fixtures, assertions). Allow them only while
    # a browser is up, one module at a time, so the rest of the suite keeps Django's check.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as p:
            yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
    )
    yield browser
    browser.close()


@pytest.fixture
def page(browser: Browser, live_server: Any) -> Iterator[Page]:
    """A page in a fresh context (no cookies), with relative URLs resolved against the server."""
    context = browser.new_context(base_url=live_server.url, locale="en-US")
    try:
        yield context.new_page()
    finally:
        context.close()


class _Server(uvicorn.Server):
    """uvicorn that says when it is listening, so the fixture waits on an event, not a clock."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self.ready.set()

    def busy(self) -> frozenset[object]:
        """The requests and sockets being served now."""
        return frozenset(self.server_state.tasks) | frozenset(self.server_state.connections)


_servers: dict[str, _Server] = {}


def server_busy(url: str) -> frozenset[object]:
    """What the server at `url` is serving now: pass it to `_wait_until_idle` after the test."""
    server = _servers.get(url)
    return server.busy() if server is not None else frozenset()


def _wait_until_idle(
    url: str, before: frozenset[object] = frozenset(), timeout: float = 15
) -> None:
    """After a test's pages are closed, let the server finish what they had started before
    the database is flushed: a request still in flight holds table locks that deadlock with
    the flush's TRUNCATE. Waits on the server's own state (polled), not on a fixed delay.

    Only for what began after `before` (`server_busy` when the test started): a socket an
    earlier test left behind is not this test's, and waiting for it would cost every later
    test the whole timeout (a channels-redis receive whose cancellation was swallowed keeps
    its socket's task alive: seen once per full run)."""
    server = _servers.get(url)
    if server is None:
        return
    done = threading.Event()
    deadline = time.monotonic() + timeout
    while server.busy() - before and time.monotonic() < deadline:
        done.wait(0.02)


@pytest.fixture(scope="session")
def asgi_server(django_db_setup: None) -> Iterator[str]:
    """The ASGI app (`smartdesk.asgi.application`) on 127.0.0.1 and a free port; its URL.

    Started once: the test database exists by then, and each test's transactional data is
    committed, so the server's threads see it.
    """
    from smartdesk.asgi import application

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))  # the OS picks a free port; we keep the socket, no race
    port = listener.getsockname()[1]
    config = uvicorn.Config(
        application, host="127.0.0.1", port=port, lifespan="off", log_level="warning"
    )
    server = _Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [listener]}, name="asgi-server", daemon=True
    )
    thread.start()
    assert server.ready.wait(15) and server.started, "uvicorn did not start"
    url = f"http://127.0.0.1:{port}"
    _servers[url] = server
    try:
        yield url
    finally:
        _servers.pop(url, None)
        server.should_exit = True
        thread.join(15)
        listener.close()


@pytest.fixture
def live_page(browser: Browser, asgi_server: str, transactional_db: None) -> Iterator[Page]:
    """A page in a fresh context against the ASGI server (WebSockets work)."""
    before = server_busy(asgi_server)
    context = browser.new_context(base_url=asgi_server, locale="en-US")
    try:
        yield context.new_page()
    finally:
        context.close()
        _wait_until_idle(asgi_server, before)


def _axe_violations(page: Page, impacts: tuple[str, ...] = ("serious", "critical")) -> Violations:
    """Run axe-core (default rules) on the whole document; return violations of those impacts."""
    # Evaluated through the DevTools protocol, not added as an inline <script>: our pages'
    # Content-Security-Policy refuses inline scripts, and must stay on while axe looks.
    page.evaluate(AXE_JS.read_text(encoding="utf-8"))
    result = page.evaluate("async () => await axe.run(document)")
    return [v for v in result["violations"] if v["impact"] in impacts]


@pytest.fixture
def axe_violations() -> Callable[..., Violations]:
    return _axe_violations
