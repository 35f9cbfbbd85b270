"""A socket whose client vanishes while the server is sending to it leaves every group it
had joined, and the connection gauge counts only the sockets still open (team
groups kept ~300 members with no socket open, and the gauge never came down).

Both channel layers: with the list layer (`core`) the memberships are sorted sets in Redis;
with the pub/sub layer (the default) they live in the web process, which counts them on
`/metrics` (`smartdesk_channel_layer_members`)."""

from __future__ import annotations

import re
import threading

import pytest

from tests.system.client import LiveLoop, open_silent, vanish
from tests.system.conftest import Stack

pytestmark = [pytest.mark.system, pytest.mark.xdist_group("system")]

FLOOD = 120
GONE = 4
STAYING = 2
GAUGE = re.compile(r'^smartdesk_websocket_connections\{endpoint="operator"\} (\S+)$', re.M)
LAYER_MEMBERS = re.compile(r"^smartdesk_channel_layer_members (\S+)$", re.M)


def _gauge(stack: Stack, web: str) -> float:
    found = GAUGE.search(stack.metrics(web))
    return float(found.group(1)) if found else 0.0


@pytest.mark.parametrize("layer", ["pubsub", "core"])
def test_a_client_gone_mid_send_leaves_no_group_member_behind(
    stack: Stack, live: LiveLoop, layer: str
) -> None:
    # given: a web process of its own on this layer (its gauges count only this test's
    # sockets), and grigory, the only one of our users in Complaints, with two sockets that
    # read...
    # (the rest of the stack runs the default layer: the flood is posted to this process, so
    # what it publishes goes through this layer)
    web = stack.start_web(CHANNEL_LAYER_BACKEND=layer).base_url
    cookies = stack.login(web, "grigory")
    groups = [
        f"asgi:group:user.{stack.user('grigory')['id']}",
        f"asgi:group:team.{stack.data['teams']['Complaints']}",
    ]
    redis = stack.redis.client()

    def memberships() -> int:
        if layer == "core":
            return sum(redis.zcard(key) for key in groups)
        found = LAYER_MEMBERS.search(stack.metrics(web))
        return int(float(found.group(1))) if found else 0

    before = memberships()
    start = stack.latest_event_id()
    staying = [
        live.connect(web, cookies, last_id=start, name=f"grigory-{n}") for n in range(STAYING)
    ]
    stack.wait(
        lambda: memberships() - before >= STAYING * len(groups), 10, "the open sockets to join"
    )
    held = memberships()
    # ... and four that never read, then vanish while their team's conversations flood
    silent = [live.run(open_silent(web, cookies)) for _ in range(GONE)]
    stack.wait(lambda: _gauge(stack, web) == STAYING + GONE, 10, "the gauge to count every socket")
    each = (held - before) // STAYING
    stack.wait(
        lambda: memberships() == before + each * (STAYING + GONE),
        10,
        "the silent sockets' memberships to be counted",
    )

    posted: list[int] = []

    def flood(worker: int) -> None:
        for n in range(worker, FLOOD, 4):
            answer = stack.inbound(
                web,
                "partner",
                external_id=f"flood-{layer}-{n}",
                text=f"flood {n} " + "x" * 500,
                customer=f"flood-{layer}{n % 5}@example.com",
            )
            posted.append(answer.status_code)

    threads = [threading.Thread(target=flood, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    try:
        # when: in the middle of the flood, each silent client asks for a replay of what it
        # missed and goes at once (half with a TCP reset, half closing TCP without a close
        # frame), so that the server is sending to it as it goes
        stack.wait(
            lambda: min(len(c.events()) for c in staying) >= 20,
            30,
            "the flood to be under way",
        )
        for n, ws in enumerate(silent):
            live.run(vanish(ws, resume_from=start, reset=n % 2 == 0))
    finally:
        for thread in threads:
            thread.join(120)
    assert posted.count(201) == FLOOD, posted

    # then: the groups hold exactly the open sockets again, and the gauge counts them
    try:
        stack.wait(lambda: memberships() == held, 30, f"the groups {groups}")
    except AssertionError as problem:
        raise AssertionError(
            f"the groups hold {memberships() - held} more members than the open sockets' "
            f"{held} ({layer} layer)\n{problem}"
        ) from None
    try:
        stack.wait(lambda: _gauge(stack, web) == STAYING, 30, "the connection gauge")
    except AssertionError as problem:
        raise AssertionError(
            f"smartdesk_websocket_connections says {_gauge(stack, web)} with {STAYING} sockets "
            f"open\n{problem}"
        ) from None
    print(
        f"{posted.count(201)} messages flooded; memberships: {memberships()}; gauge: "
        f"{_gauge(stack, web)}"
    )
    for client in staying:
        assert client.connections == 1 and client.duplicates == [], client.summary()
