"""Redis killed and restarted in the middle of the traffic: every socket ends up
with exactly the events its user may see, none twice; every reply stored is delivered to
Telegram exactly once; /readyz reports the outage and the recovery."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.system.client import LiveClient, LiveLoop
from tests.system.conftest import Stack
from tests.system.harness import wait_until

pytestmark = [pytest.mark.system, pytest.mark.xdist_group("system")]

CHATS = (71001, 71002)
PREFIX = "outage-"
# Conversations the user may see, by their role's scope (smartdesk's gate, in plain SQL).
VISIBLE = """
SELECT c.id FROM chats_conversation c
JOIN accounts_operatorprofile p ON p.user_id = %(user)s
JOIN accounts_role r ON r.id = p.role_id
WHERE r.scope = 'all'
   OR c.assignee_id = %(user)s
   OR (r.scope = 'teams' AND c.team_id IN (
        SELECT team_id FROM accounts_operatorprofile_teams WHERE operatorprofile_id = p.id))
"""


def _readyz(web: str) -> tuple[int, dict[str, Any]]:
    answer = httpx.get(f"{web}/readyz", timeout=10)
    return answer.status_code, answer.json()


def _expected(stack: Stack, user_id: int, after: int) -> tuple[set[int], set[int]]:
    """(ids the user may see, ids the comparison covers) among events after `after`: events
    addressed to nobody in particular but a group (presence for admins) are left out, as
    nothing can replay them."""
    rows = stack.query(
        f"""SELECT seq, (user_id = %(user)s OR conversation_id IN ({VISIBLE}))
            FROM smartdesk_liveevent
            WHERE seq > %(after)s AND (user_id = %(user)s OR conversation_id IS NOT NULL)""",  # noqa: S608
        {"user": user_id, "after": after},
    )
    return {seq for seq, visible in rows if visible}, {seq for seq, _ in rows}


class Traffic:
    """Customers writing and operators answering, posting alternately to web A and B."""

    def __init__(self, stack: Stack, conversations: dict[int, int]) -> None:
        self.stack = stack
        self.conversations = conversations  # chat id -> conversation id
        self.n = 0
        self.failed: list[tuple[str, int | str]] = []  # what failed, to be retried
        self.statuses: list[tuple[str, int | str]] = []

    def _web(self) -> str:
        self.n += 1
        return self.stack.web(self.n % 2)

    def _post(self, label: str, call: Any) -> bool:
        try:
            status: int | str = call().status_code
        except httpx.HTTPError as problem:
            status = type(problem).__name__
        self.statuses.append((label, status))
        return status in (200, 201)

    def inbound(self, phase: str, n: int) -> None:
        for label in ("support", "delivery"):
            key = f"{PREFIX}{phase}-{label}-{n}"
            if not self._post(
                key,
                lambda label=label, key=key: self.stack.inbound(
                    self._web(), label, external_id=key, text=key, customer=f"{key}@example.com"
                ),
            ):
                self.failed.append(("inbound", key))

    def replies(self, phase: str, n: int) -> None:
        for chat, conversation in self.conversations.items():
            body = f"{PREFIX}{phase}-{chat}-{n}"
            if not self._post(
                body,
                lambda body=body, conversation=conversation: self.stack.reply(
                    self._web(), "admin", conversation, body
                ),
            ):
                self.failed.append(("reply", body))

    def retry_failed(self) -> None:
        """Send again what failed, as the customer's channel and the operator would: the same
        external id (idempotent), and a new reply (the first may or may not be stored)."""
        pending, self.failed = self.failed, []
        for kind, key in pending:
            if kind == "inbound":
                label = "support" if "-support-" in str(key) else "delivery"
                self.stack.wait(
                    lambda label=label, key=key: self._post(
                        f"retry {key}",
                        lambda: self.stack.inbound(
                            self._web(),
                            label,
                            external_id=str(key),
                            text=str(key),
                            customer=f"{key}@example.com",
                        ),
                    ),
                    60,
                    f"the inbound message {key} to be accepted after the outage",
                )
            else:
                chat = int(str(key).split("-")[2])
                body = f"{key}-again"
                self.stack.wait(
                    lambda chat=chat, body=body: self._post(
                        body,
                        lambda: self.stack.reply(
                            self._web(), "admin", self.conversations[chat], body
                        ),
                    ),
                    60,
                    f"the reply {body} to be accepted after the outage",
                )


def test_after_a_redis_restart_every_socket_has_its_events_once_and_every_reply_went_once(
    stack: Stack, live: LiveLoop
) -> None:
    web_a, web_b = stack.web(0), stack.web(1)
    # given: two Telegram customers in General support's inbox
    for chat in CHATS:
        answer = stack.telegram_update(web_a, chat_id=chat, text=f"{PREFIX}hello {chat}")
        assert answer.status_code == 200, answer.text
    conversations = {chat: stack.telegram_conversation(chat) for chat in CHATS}
    # ... and three operator pages open: the admin (scope all) on A, anna (General support)
    # on B, vera (Delivery) on A
    sockets: dict[str, tuple[LiveClient, int]] = {}
    for username, web in (("admin", web_a), ("anna", web_b), ("vera", web_a)):
        start = stack.latest_event_id()  # what the page rendered
        client = live.connect(web, stack.login(web, username), last_id=start, name=username)
        sockets[username] = (client, start)
    traffic = Traffic(stack, conversations)

    # when: traffic before, during and after an outage of Redis
    for n in range(3):
        traffic.inbound("before", n)
        traffic.replies("before", n)
    assert traffic.failed == [], traffic.statuses

    stack.redis.kill()
    problems: list[str] = []
    for web in (web_a, web_b):
        try:
            wait_until(lambda web=web: _readyz(web)[0] == 503, 15, f"{web}/readyz to fail")
        except AssertionError as problem:
            problems.append(str(problem))
    down = [_readyz(w) for w in (web_a, web_b)]
    for n in range(3):
        traffic.inbound("during", n)
        traffic.replies("during", n)
    during = list(traffic.statuses[-12:])

    stack.redis.start()  # the same port, empty: every key, queue and group is gone
    for web in (web_a, web_b):
        stack.wait(lambda web=web: _readyz(web)[0] == 200, 30, f"{web}/readyz to recover")
    traffic.retry_failed()
    for n in range(3):
        traffic.inbound("after", n)
        traffic.replies("after", n)
    if traffic.failed:
        # Once /readyz is green, writes must work: a failure here is the defect itself. Sent
        # again so that the remaining checks still run.
        failed = {key for _, key in traffic.failed}
        problems.append(
            "requests failing after /readyz was green again: "
            f"{[(key, status) for key, status in traffic.statuses if key in failed]}"
        )
        traffic.retry_failed()

    # then (every check is made, and every failure reported together):
    # ... /readyz named Redis while it was down
    if not all(status == 503 and "redis" in body.get("failed", []) for status, body in down):
        problems.append(f"/readyz during the outage: {down}")
    # ... every socket holds exactly what its user may see, each event once
    users = {name: stack.user(name)["id"] for name in sockets}

    def gaps() -> dict[str, tuple[list[int], list[int]]]:
        """Per user: (ids missing, ids received that are not theirs)."""
        found = {}
        for name, (client, start) in sockets.items():
            expected, covered = _expected(stack, users[name], start)
            got = client.received() & covered
            if got != expected:
                found[name] = (sorted(expected - got), sorted(got - expected))
        return found

    try:
        wait_until(lambda: not gaps(), 60, "every socket to hold every event it may see")
    except AssertionError as problem:
        problems.append(f"{problem}: (missing, not theirs) by user: {gaps()}")
    for client, start in sockets.values():
        if client.duplicates or any(seq <= start for seq in client.received()):
            problems.append(f"duplicates or events from before the page: {client.summary()}")

    # ... every reply stored went to Telegram exactly once
    def stored() -> set[tuple[int, str]]:
        rows = stack.query(
            "SELECT t.chat_id, m.body FROM chats_message m"
            " JOIN chats_conversation c ON c.id = m.conversation_id"
            " JOIN chats_telegramchat t"
            " ON t.customer_id = c.customer_id AND t.inbox_id = c.inbox_id"
            " WHERE m.kind = 'outbound' AND m.body LIKE %s",
            [PREFIX + "%"],
        )
        return {(int(chat), body) for chat, body in rows}

    def ours() -> dict[tuple[int, str], int]:
        return {k: v for k, v in stack.bot.sent().items() if k[1].startswith(PREFIX)}

    try:
        wait_until(
            lambda: set(ours()) == stored() and all(v == 1 for v in ours().values()),
            60,
            "every stored reply to reach Telegram exactly once",
            interval=0.2,
        )
    except AssertionError as problem:
        sent, kept = ours(), stored()
        problems.append(
            f"{problem}: never sent {sorted(kept - set(sent))}; sent but not stored "
            f"{sorted(set(sent) - kept)}; sent twice or more "
            f"{sorted(k for k, v in sent.items() if v > 1)}"
        )
    # ... and no process died of it (a supervisor would restart it, but whatever it held
    # in hand is lost until the broker's visibility timeout)
    dead = [proc.name for proc in stack.procs if not proc.alive]
    if dead:
        problems.append(f"processes that died in the outage: {dead}")
    # Figures for the run's record (shown with -rA).
    print(f"requests during the outage: {during}; /readyz then: {down}")
    for client, _ in sockets.values():
        print(client.summary())
    assert not problems, (
        "\n".join(problems)
        + f"\nrequests during the outage: {during}\n"
        + "\n".join(client.summary() for client, _ in sockets.values())
        + f"\n{stack.tails()}"
    )
