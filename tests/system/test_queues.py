"""deploy/Procfile's two Celery workers: the default queue's (what people wait for) and the
background queue's (exports, summaries: slow work nobody watches). A reply is delivered while
the background work waits, and the background worker then does it: slow work never holds
the slots a reply needs."""

from __future__ import annotations

import httpx
import pytest

from tests.system.conftest import Stack

pytestmark = [pytest.mark.system, pytest.mark.xdist_group("system")]

CHAT = 73001


def _export_status(stack: Stack, job_id: int) -> str:
    return stack.query("SELECT status FROM analytics_exportjob WHERE id = %s", [job_id])[0][0]


def test_a_reply_is_delivered_while_background_work_waits_for_its_own_worker(
    stack: Stack,
) -> None:
    web = stack.web(0)
    # given: the workers as deploy/Procfile runs them, the background one not started yet
    for worker in stack.workers:
        worker.terminate()
    stack.workers.clear()
    stack.start_worker(queues="celery")
    try:
        answer = stack.telegram_update(web, chat_id=CHAT, text="queues: hello")
        assert answer.status_code == 200, answer.text
        conversation = stack.telegram_conversation(CHAT)

        # when: an export is asked for, then a reply is sent
        asked = httpx.post(
            f"{web}/api/v1/reports/exports/",
            json={"dataset": "conversations", "format": "csv"},
            headers={"Authorization": f"Token {stack.user('admin')['token']}"},
            timeout=30,
        )
        assert asked.status_code == 202, asked.text
        job_id = asked.json()["id"]
        sent = stack.reply(web, "admin", conversation, "queues: the reply")
        assert sent.status_code == 201, sent.text

        # then: the reply reaches Telegram with the export still waiting: the default
        # queue's worker never takes it
        stack.wait(
            lambda: stack.bot.sent()[(CHAT, "queues: the reply")] == 1,
            60,
            "the reply to reach Telegram",
        )
        assert _export_status(stack, job_id) == "queued"

        # and: the background queue's worker, once there, builds the export
        stack.start_worker(queues="background")
        stack.wait(lambda: _export_status(stack, job_id) == "done", 90, "the export to be built")
        assert stack.bot.sent()[(CHAT, "queues: the reply")] == 1
    finally:
        # the other tests find a worker on both queues, as before
        for worker in stack.workers:
            worker.terminate()
        stack.workers.clear()
        stack.start_worker()
