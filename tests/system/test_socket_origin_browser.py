"""deploy/Procfile's shape without a proxy, in a real browser: pages from `web`, the operator
socket on a `ws` process of its own that `LIVE_SOCKET_ORIGIN` points the pages at. The page
must open its socket there, signed in by the session cookie of the same host, and patch its
list live from it, without reloading."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import sync_playwright

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.system import harness
from tests.system.conftest import Stack

pytestmark = [pytest.mark.system, pytest.mark.xdist_group("system")]


def test_a_page_from_web_hears_live_events_through_the_ws_process(stack: Stack) -> None:
    # given: `ws` (no ticker, as in the Procfile) and a `web` whose pages point at it
    ws_port = harness.free_port()
    ws = harness.start_web({**stack.env, "SMARTDESK_TICKER": "false"}, ws_port)
    try:
        web = harness.start_web(
            {**stack.env, "LIVE_SOCKET_ORIGIN": f"ws://127.0.0.1:{ws_port}"}, harness.free_port()
        )
    except BaseException:
        ws.terminate(timeout=5)
        raise
    try:
        _browse(stack, web, ws_port)
    finally:
        for proc in (web, ws):  # not left running through the other system tests
            proc.terminate(timeout=5)


def _browse(stack: Stack, web: harness.Proc, ws_port: int) -> None:
    cookies = stack.login(web.base_url, "diana")  # Complaints: the partner inbox's team
    text = f"via ws {uuid.uuid4().hex[:8]}"

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            context = browser.new_context(base_url=web.base_url, locale="en-US")
            context.add_cookies(
                [{"name": k, "value": v, "url": web.base_url} for k, v in cookies.items()]
            )
            page = context.new_page()
            sockets: list[str] = []
            page.on("websocket", lambda socket: sockets.append(socket.url))
            page.goto("/inbox/?view=team")
            # (arrow functions, which Playwright calls, not bare expressions, which it would
            # evaluate: the page's CSP forbids eval)
            page.wait_for_function(
                "() => document.getElementById('workspace').dataset.live == 'live'"
            )
            # What the page heard, as operator.js hands every frame on; and a mark a reload
            # would wipe.
            page.evaluate(
                """() => {
                    window.__heard = [];
                    const heard = (e) => window.__heard.push(e.detail);
                    document.addEventListener("smartdesk:live", heard);
                    window.__notReloaded = true;
                }"""
            )

            # when: a customer writes to the team's inbox, through the other process
            answer = stack.inbound(
                web.base_url, "partner", external_id=text, text=text, customer="ws@example.com"
            )
            assert answer.status_code == 201, answer.text

            # then: the row arrives over the socket on `ws`, rendered for the page to patch
            # itself with (where it lands in the list depends on what else waits), and the
            # page was not reloaded
            page.wait_for_function(
                """(text) => window.__heard.some((m) =>
                    m.type === "conversation.changed" && (m.html?.row || "").includes(text))""",
                arg=text,
                timeout=20_000,
            )
            assert page.evaluate("window.__notReloaded === true")
            assert any(url.startswith(f"ws://127.0.0.1:{ws_port}/ws/operator") for url in sockets)
            assert not any(f":{web.base_url.rsplit(':', 1)[1]}/ws/" in url for url in sockets)
        finally:
            browser.close()
