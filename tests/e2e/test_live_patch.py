"""Live events patch the page in place (chats/live_render.py renders the row and the message
once per view; static/js/operator.js applies them): a new message or a change of hands
reaches the list and the open thread without the page fetching either fragment, and the
patched page reads as a reload of it does. Expectations auto-wait; nothing here sleeps."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Playwright, Request, WebSocketRoute, expect

from accounts.models import User
from chats.models import Conversation, Inbox
from tests import factories
from tests.e2e.test_inbox import customer_writes, in_thread, open_live, row
from tests.e2e.test_login import sign_in

pytestmark = [
    pytest.mark.django_db(transaction=True),
    # WhiteNoise hands static files to Django's ASGI handler as a synchronous iterator.
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators"),
]


@pytest.fixture
def conversation(support_inbox: Inbox, operator: User) -> Conversation:
    return in_thread(
        lambda: factories.make_conversation(
            inbox=support_inbox,
            customer=factories.make_customer("Svetlana", "Morozova", email="sveta@example.com"),
            text="Здравствуйте! Можно ролл без кунжута?",
            assignee=operator,
        )
    )


class Fetches:
    """The fragment URLs a page asks for (GET), recorded as the requests start."""

    FRAGMENTS = ("/inbox/list/", "/thread/", "/panel/")

    def __init__(self, page: Page) -> None:
        self.paths: list[str] = []
        page.on("request", self._record)

    def _record(self, request: Request) -> None:
        path = urlsplit(request.url).path
        if request.method == "GET" and any(part in path for part in self.FRAGMENTS):
            self.paths.append(path)


def test_a_customer_message_patches_the_row_and_the_open_thread_without_fetching_them(
    live_page: Page,
    playwright: Playwright,
    asgi_server: str,
    operator: User,
    support_inbox: Inbox,
    conversation: Conversation,
) -> None:
    # given: Anna has the conversation open, live
    sign_in(live_page, "anna")
    open_live(live_page, f"/inbox/c/{conversation.pk}/")
    live_page.evaluate("window.__sameDocument = true")  # gone if the page reloads
    fetches = Fetches(live_page)

    # when: the customer writes
    customer_writes(playwright, asgi_server, support_inbox, conversation, "Курьер у двери?")

    # then: the thread and the row show it (any refetch would have started before either)
    message = live_page.locator("#thread-log li.msg-inbound").filter(has_text="Курьер у двери?")
    expect(message).to_have_count(1)
    expect(row(live_page, conversation).locator(".row-preview")).to_have_text("Курьер у двери?")
    expect(live_page.locator("#live-announcer")).to_have_text("New message in this conversation.")
    assert fetches.paths == []
    assert live_page.evaluate("window.__sameDocument") is True

    # and the patched page reads as the page itself does
    patched_row = row(live_page, conversation).inner_text()
    patched_message = message.inner_text()
    row_link = row(live_page, conversation).locator(".row-link")
    patched_href = row_link.get_attribute("href")
    assert row_link.get_attribute("aria-current") == "true"
    live_page.reload()
    expect(message).to_have_count(1)
    assert row(live_page, conversation).inner_text() == patched_row
    assert message.inner_text() == patched_message
    assert row_link.get_attribute("href") == patched_href


def test_a_conversation_taken_by_a_teammate_leaves_the_queue_without_a_refetch(
    live_page: Page, operator: User, teammate: User, support_inbox: Inbox
) -> None:
    from chats.services.conversations import conversation_take

    first = in_thread(lambda: factories.make_conversation(inbox=support_inbox, text="Первый"))
    second = in_thread(lambda: factories.make_conversation(inbox=support_inbox, text="Второй"))
    sign_in(live_page, "anna")
    open_live(live_page, "/inbox/?view=queue")
    expect(row(live_page, first)).to_be_visible()
    expect(row(live_page, second)).to_be_visible()
    fetches = Fetches(live_page)

    in_thread(lambda: conversation_take(conversation=first, actor=teammate))

    expect(row(live_page, first)).to_have_count(0)
    expect(row(live_page, second)).to_be_visible()
    assert fetches.paths == []


def test_a_new_message_moves_the_row_where_a_reload_puts_it(
    live_page: Page, operator: User, support_inbox: Inbox
) -> None:
    from chats.services.conversations import conversation_assign, conversation_set_priority

    # given: three of Anna's conversations, in working order
    made = [
        in_thread(
            lambda n=n: factories.make_conversation(
                inbox=support_inbox, text=f"Вопрос {n}", assignee=operator
            )
        )
        for n in range(3)
    ]
    sign_in(live_page, "anna")
    open_live(live_page, "/inbox/?view=mine")
    ids = "#list li.row >> nth=0"
    expect(live_page.locator(ids)).to_have_attribute("data-conversation-id", str(made[0].pk))
    fetches = Fetches(live_page)

    # when: the last one becomes urgent (it goes first) and a conversation is assigned to Anna
    in_thread(
        lambda: conversation_set_priority(
            conversation=made[2], priority=Conversation.Priority.URGENT, actor=operator
        )
    )
    newcomer = in_thread(lambda: factories.make_conversation(inbox=support_inbox, text="Новый"))
    in_thread(lambda: conversation_assign(conversation=newcomer, operator=operator, actor=operator))

    # then: the list is in the order the server gives, without asking it
    expect(live_page.locator(ids)).to_have_attribute("data-conversation-id", str(made[2].pk))
    expect(row(live_page, newcomer)).to_be_visible()
    patched = live_page.locator("#list li.row").evaluate_all(
        "rows => rows.map(r => r.dataset.conversationId)"
    )
    assert fetches.paths == []
    live_page.reload()
    expect(row(live_page, newcomer)).to_be_visible()
    assert (
        live_page.locator("#list li.row").evaluate_all(
            "rows => rows.map(r => r.dataset.conversationId)"
        )
        == patched
    )


# --- the protocol's client rules (docs/live.md), against a scripted server ------------------


class ScriptedServer:
    """Stands in for /ws/operator/ in the browser (Playwright's WebSocket routing, for the
    sockets opened after it is set up): answers `resume` and `subscribe` as the server does,
    says `hello` (when it has one) on connect, and keeps what each connection received."""

    def __init__(self, page: Page, hello: dict[str, Any] | None) -> None:
        self.hello = hello
        self.connections: list[tuple[WebSocketRoute, list[dict[str, Any]]]] = []
        page.route_web_socket(re.compile(r"/ws/operator/$"), self._connect)

    def _connect(self, ws: WebSocketRoute) -> None:
        received: list[dict[str, Any]] = []
        self.connections.append((ws, received))

        def answer(raw: str | bytes) -> None:
            frame = json.loads(raw)
            received.append(frame)
            if frame["type"] == "resume":
                ws.send(json.dumps({"type": "resumed", "replayed": 0, "last_id": frame["last_id"]}))
            elif frame["type"] == "subscribe":
                cid = frame["conversation_id"]
                ws.send(json.dumps({"type": "subscribed", "conversation_id": cid}))

        ws.on_message(answer)
        if self.hello is not None:
            ws.send(json.dumps(self.hello))

    @property
    def received(self) -> list[dict[str, Any]]:
        """What the newest connection received."""
        return self.connections[-1][1]

    def send(self, frame: dict[str, Any]) -> None:
        self.connections[-1][0].send(json.dumps(frame))

    def reconnected(self, page: Page) -> list[dict[str, Any]]:
        """Drop the newest connection; once the page is live again, what the next one got."""
        before = len(self.connections)
        self.connections[-1][0].close(code=1011)
        expect(page.locator("#workspace")).to_have_attribute("data-live", "reconnecting")
        expect(page.locator("#workspace")).to_have_attribute("data-live", "live")
        assert len(self.connections) == before + 1
        return self.received


HEARD = """
window.__heard = [];
document.addEventListener("smartdesk:live", (e) => {
  if (Number.isInteger(e.detail.id)) window.__heard.push(e.detail.id);
});
"""


def heard(page: Page, until: int) -> list[int]:
    """The event ids the page handled, once it has handled `until`."""
    page.wait_for_function("(id) => window.__heard.includes(id)", arg=until)
    return page.evaluate("window.__heard")


def test_the_page_resumes_from_its_confirmed_watermark_and_drops_duplicates(
    live_page: Page, operator: User, conversation: Conversation
) -> None:
    # given: a server that says hello with an id newer than the page (events on their way)
    sign_in(live_page, "anna")
    server = ScriptedServer(live_page, {"type": "hello", "heartbeat": 600, "last_id": 10**9})
    live_page.add_init_script(HEARD)
    open_live(live_page, f"/inbox/c/{conversation.pk}/")
    w = int(live_page.locator("#workspace").get_attribute("data-live-after"))

    # then: it resumed from the id the page was rendered at, not from the hello's
    assert {"type": "resume", "last_id": w, "seen": []} in server.received
    assert {"type": "subscribe", "conversation_id": conversation.pk} in server.received

    # when: events arrive, one twice, then a heartbeat confirms up to w + 3
    for seq in (w + 2, w + 2, w + 4):
        server.send({"type": "presence.changed", "id": seq})
    server.send({"type": "heartbeat", "last_id": w + 3})
    for seq in (w + 3, w + 4, w + 5):  # at or under the watermark, or already held
        server.send({"type": "presence.changed", "id": seq})

    # then: each event was handled once; nothing at or under the watermark
    assert heard(live_page, w + 5) == [w + 2, w + 4, w + 5]

    # and after the connection ends, the page resumes from the watermark with what it holds
    again = server.reconnected(live_page)
    assert {"type": "resume", "last_id": w + 3, "seen": [w + 4, w + 5]} in again
    assert {"type": "subscribe", "conversation_id": conversation.pk} in again


def test_a_silent_connection_is_dropped_after_two_and_a_half_heartbeats(
    live_page: Page, operator: User, conversation: Conversation
) -> None:
    sign_in(live_page, "anna")
    server = ScriptedServer(live_page, {"type": "hello", "heartbeat": 600, "last_id": 0})
    open_live(live_page, "/inbox/")
    w = int(live_page.locator("#workspace").get_attribute("data-live-after"))
    before = len(server.connections)

    # when: the server promises a heartbeat every 0.2 s, then says nothing (a dead link the
    # browser has not noticed)
    server.send({"type": "hello", "heartbeat": 0.2, "last_id": 0})

    # then: the page gives up on it, reconnects by itself and resumes
    expect(live_page.locator("#workspace")).to_have_attribute("data-live", "reconnecting")
    expect(live_page.locator("#workspace")).to_have_attribute("data-live", "live")
    assert len(server.connections) == before + 1
    assert {"type": "resume", "last_id": w, "seen": []} in server.received


def test_a_server_without_hello_still_gets_each_event_once_and_a_resume(
    live_page: Page, operator: User, conversation: Conversation
) -> None:
    # given: a server from before protocol v2: no hello, no heartbeat
    sign_in(live_page, "anna")
    server = ScriptedServer(live_page, None)
    live_page.add_init_script(HEARD)
    open_live(live_page, "/inbox/")
    w = int(live_page.locator("#workspace").get_attribute("data-live-after"))

    # when: events come, out of order and one twice
    for seq in (w + 7, w + 5, w + 7, w + 6):
        server.send({"type": "presence.changed", "id": seq})

    # then: each is handled once, and a reconnect names them all above the page's id
    assert heard(live_page, w + 6) == [w + 7, w + 5, w + 6]
    again = server.reconnected(live_page)
    assert {"type": "resume", "last_id": w, "seen": [w + 5, w + 6, w + 7]} in again


def test_the_queue_view_follows_the_socket(
    live_page: Page, admin_user: User, support_inbox: Inbox
) -> None:
    """live-fragment.js on its own page: the same protocol client, a debounced refresh."""
    sign_in(live_page, "pavel")
    live_page.goto("/inbox/queue/")
    queue = live_page.locator("#queue")
    expect(queue).to_contain_text("Nobody is waiting.")

    in_thread(
        lambda: [
            factories.make_conversation(inbox=support_inbox, text=f"Очередь {n}") for n in range(3)
        ]
    )

    # well before the page's own 30-second tick
    expect(queue.locator("tr[data-conversation]")).to_have_count(3, timeout=10_000)


def test_a_row_from_an_older_event_never_replaces_a_newer_one(
    live_page: Page, operator: User, support_inbox: Inbox, conversation: Conversation
) -> None:
    # Events sent to two groups of one batch may reach a socket out of order
    # (docs/live.md); the page keeps the row of the newest event id per conversation.
    other = in_thread(
        lambda: factories.make_conversation(
            inbox=support_inbox, text="Второй разговор", assignee=operator
        )
    )
    sign_in(live_page, "anna")
    server = ScriptedServer(live_page, {"type": "hello", "heartbeat": 600, "last_id": 0})
    live_page.add_init_script(HEARD)
    open_live(live_page, "/inbox/")
    w = int(live_page.locator("#workspace").get_attribute("data-live-after"))
    lang = live_page.evaluate("document.documentElement.lang")
    mine, theirs = row(live_page, conversation), row(live_page, other)
    html = mine.evaluate("e => e.outerHTML")
    assert "Svetlana" in html

    def changed(seq: int, conversation_id: int, row_html: str) -> dict[str, Any]:
        return {
            "type": "conversation.changed",
            "id": seq,
            "conversation_id": conversation_id,
            "change": "message",
            "html": {"row": row_html, "lang": lang},
        }

    # when: the newer event's row comes first and is shown...
    server.send(changed(w + 2, conversation.pk, html.replace("Svetlana", "Newer")))
    expect(mine).to_contain_text("Newer")
    # ...then the older event's, then another conversation's, shown only after it
    server.send(changed(w + 1, conversation.pk, html.replace("Svetlana", "Older")))
    marker = theirs.evaluate("e => e.outerHTML").replace("Второй разговор", "Marker")
    server.send(changed(w + 3, other.pk, marker))
    heard(live_page, w + 3)
    expect(theirs).to_contain_text("Marker")

    # then: the row still reads as the newer event left it
    expect(mine).to_contain_text("Newer")
    assert "Older" not in mine.inner_text()
