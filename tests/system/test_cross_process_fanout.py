"""Two uvicorn processes on one Redis: an event published by one reaches sockets on both,
stamped with the live-event log's commit-ordered id."""

from __future__ import annotations

import pytest

from tests.system.client import LiveClient, LiveLoop
from tests.system.conftest import Stack

pytestmark = [pytest.mark.system, pytest.mark.xdist_group("system")]


def _created(client: LiveClient, message_id: int) -> list[dict]:
    return [
        e
        for e in client.events()
        if e.get("type") == "message.created" and e.get("message_id") == message_id
    ]


def test_a_message_ingested_on_one_web_process_reaches_sockets_on_both(
    stack: Stack, live: LiveLoop
) -> None:
    # given: anna (General support) with one socket on web A and one on web B
    web_a, web_b = stack.web(0), stack.web(1)
    cookies = stack.login(web_a, "anna")
    start = stack.latest_event_id()
    on_a = live.connect(web_a, cookies, last_id=start, name="anna@A")
    on_b = live.connect(web_b, cookies, last_id=start, name="anna@B")

    # when: a customer writes to the support API inbox through web A
    answer = stack.inbound(
        web_a, "support", external_id="fanout-1", text="hello from A", customer="fan@example.com"
    )
    assert answer.status_code == 201, answer.text
    message_id = answer.json()["message_id"]

    # then: both sockets hear it, once, with the id its log row got at commit
    for client in (on_b, on_a):
        stack.wait(
            lambda c=client: _created(c, message_id),
            15,
            f"message.created for message {message_id} on {client.name} ({client.summary()})",
        )
    rows = stack.query(
        "SELECT seq FROM smartdesk_liveevent WHERE type = 'message.created'"
        " AND (payload->>'message_id')::bigint = %s",
        [message_id],
    )
    assert len(rows) == 1, rows
    seq = rows[0][0]
    assert [e["id"] for e in _created(on_a, message_id)] == [seq]
    assert [e["id"] for e in _created(on_b, message_id)] == [seq]
    assert on_a.duplicates == [] and on_b.duplicates == [], (on_a.summary(), on_b.summary())
