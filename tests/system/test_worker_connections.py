"""The Celery worker keeps its PostgreSQL connections from one task to the next.

Celery's Django fix-up closes every database connection before and after each task, and
with Django's connection pool it closes the pool itself: each task opened a new PostgreSQL
session (a backend forked, authenticated and set up). A task now hands its connection back
to the process's pool when it ends, as a request does, and the pool checks a connection
before lending it: kept connections must survive the server dropping them."""

from __future__ import annotations

import pytest

from tests.system.conftest import Stack

pytestmark = [pytest.mark.system, pytest.mark.xdist_group("system")]

CHAT = 74001
REPLIES = 20
PREFIX = "sessions: "


def _sessions(stack: Stack) -> int:
    """Sessions opened on the test database so far, as PostgreSQL has counted them (a
    backend reports its own within a second or so; a late report only undercounts)."""
    rows = stack.query("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
    return int(rows[0][0])


def test_the_worker_does_not_open_a_database_session_per_task(stack: Stack) -> None:
    web = stack.web(0)
    stack.ensure_worker()
    answer = stack.telegram_update(web, chat_id=CHAT, text=f"{PREFIX}hello")
    assert answer.status_code == 200, answer.text
    conversation = stack.telegram_conversation(CHAT)
    bodies = [f"{PREFIX}{n}" for n in range(REPLIES)]
    before = _sessions(stack)

    # when: twenty replies are delivered, one task each
    for body in bodies:
        sent = stack.reply(web, "admin", conversation, body)
        assert sent.status_code == 201, sent.text
    stack.wait(
        lambda: all(stack.bot.sent()[(CHAT, body)] == 1 for body in bodies),
        90,
        "every reply to reach Telegram",
    )

    # then: the worker used the connections it had; a session per task would be 20 or more
    opened = _sessions(stack) - before
    assert opened < REPLIES // 2, f"{opened} PostgreSQL sessions opened for {REPLIES} tasks"


def _deliver(stack: Stack, conversation: int, chat: int, body: str) -> None:
    """A reply sent (201) and then seen once by Telegram."""
    sent = stack.reply(stack.web(0), "admin", conversation, body)
    assert sent.status_code == 201, sent.text
    stack.wait(lambda: stack.bot.sent()[(chat, body)] == 1, 60, f"{body!r} to reach Telegram")


def test_connections_the_server_dropped_are_replaced_not_used(stack: Stack) -> None:
    web = stack.web(0)
    stack.ensure_worker()
    answer = stack.telegram_update(web, chat_id=CHAT + 1, text=f"{PREFIX}dropped")
    assert answer.status_code == 200, answer.text
    conversation = stack.telegram_conversation(CHAT + 1)
    _deliver(stack, conversation, CHAT + 1, f"{PREFIX}before the drop")
    logs = {proc.name: len(proc.log()) for proc in stack.procs}

    # when: the server ends every other session on the database (a restart, a fail-over, an
    # idle timeout), leaving the web's and the worker's pools holding dead connections
    stack.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )

    # then: the next request and the next task get working connections, and nothing fails
    _deliver(stack, conversation, CHAT + 1, f"{PREFIX}after the drop")
    for proc in stack.procs:
        written = proc.log()[logs.get(proc.name, 0) :]
        assert "OperationalError" not in written, f"{proc.name}:\n{written[-3000:]}"
