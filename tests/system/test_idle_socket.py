"""An idle operator socket lives: no ping from the browser for a minute, and it is still open
and still hears the next event (the Redis client's 5 s socket timeout equalled the
channel layer's blocking receive, and every idle consumer died within 5-10 s)."""

from __future__ import annotations

import pytest

from tests.system.client import LiveLoop
from tests.system.conftest import Stack
from tests.system.harness import holds_for

pytestmark = [pytest.mark.system, pytest.mark.xdist_group("system")]

IDLE_SECONDS = 60


def test_an_idle_operator_socket_stays_open_and_still_hears_events(
    stack: Stack, live: LiveLoop
) -> None:
    # given: boris (General support) on web A, sending nothing at all
    web = stack.web(0)
    client = live.connect(web, stack.login(web, "boris"), last_id=stack.latest_event_id())

    # when: a minute passes; the socket must not close (and so must not reconnect)
    def open_all_along() -> bool:
        return client.connections == 1 and not client.closes

    try:
        holds_for(open_all_along, IDLE_SECONDS, "the idle socket being open")
    except AssertionError as problem:
        raise AssertionError(f"{problem}: {client.summary()}\n{stack.tails()}") from None

    # then: a new message in boris's team reaches that same connection
    answer = stack.inbound(
        web, "support", external_id="idle-1", text="still there?", customer="idle@example.com"
    )
    assert answer.status_code == 201, answer.text
    message_id = answer.json()["message_id"]
    stack.wait(
        lambda: any(
            e.get("type") == "message.created" and e.get("message_id") == message_id
            for e in client.events()
        ),
        15,
        f"message {message_id} to reach the socket that idled ({client.summary()})",
    )
    assert client.connections == 1 and not client.closes, client.summary()
    assert client.duplicates == [], client.summary()
