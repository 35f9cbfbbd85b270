"""The Celery worker keeps its PostgreSQL connections from one task to the next.

Celery's Django fix-up closes every database connection before and after each task, and
with Django's connection pool it closes the pool itself: each task opened a new PostgreSQL
session (a backend forked, authenticated and set up). In bench/live.py that was a sixth of
the worker's CPU, on a machine the web and socket processes share. A task now hands its
connection back to the process's pool when it ends, as a request does."""

from __future__ import annotations

import pytest

from tests.system.conftest import Stack

pytestmark = [pytest.mark.system, pytest.mark.xdist_group("system")]

CHAT = 74001
REPLIES = 20
PREFIX = "sessions: "


def _sessions(stack: Stack) -> int:
    """Sessions opened on the test database so far (each one's exit reports it)."""
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
