"""A stored reply is always delivered, exactly once: a failing live send cannot skip its
delivery or turn the committed write into a 500; a reply whose task was lost (a worker
killed, a broker restarted empty) is found by the sweep within a minute; two copies of the
delivery task never send twice. Against the fake Bot API on localhost and the real
PostgreSQL (real commits, real threads)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from channels.layers import get_channel_layer
from django.db import connections
from django.test import Client
from django.utils import timezone

from chats.channels.tasks import sweep_stuck_deliveries
from chats.models import Conversation, DeliveryAttempt, Inbox, Message
from chats.services import messages as message_services
from tests.chats.channels.conftest import CUSTOMER_TG, update, webhook

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for(condition: Callable[[], Any], *, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError("condition not met in time")


@pytest.fixture
def conversation(bot_api, telegram_inbox: Inbox) -> Conversation:
    webhook(Client(), telegram_inbox, update(text="Где мой заказ?"))
    return Conversation.objects.get()


def _refuse_enqueue(patch: pytest.MonkeyPatch) -> None:
    """The broker refuses the enqueue after commit (Redis restarting): the reply is stored
    and committed, and no task for it exists anywhere."""
    from chats.channels.tasks import deliver_reply

    def refused(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    patch.setattr(deliver_reply, "delay", refused)


@pytest.fixture
def broker_down(monkeypatch: pytest.MonkeyPatch) -> None:
    _refuse_enqueue(monkeypatch)


def _reply_without_task(
    monkeypatch: pytest.MonkeyPatch, conversation: Conversation, operator: Any, body: str
) -> Message:
    with monkeypatch.context() as patch:
        _refuse_enqueue(patch)
        return message_services.message_reply(conversation=conversation, author=operator, body=body)


def _later(seconds: float) -> Any:
    return time_machine.travel(timezone.now() + timedelta(seconds=seconds), tick=True)


def _run_threads(*targets: Callable[[], Any]) -> list[Any]:
    """Run each target in its own thread (its own database connection); their results."""
    results: list[Any] = [None] * len(targets)
    errors: list[BaseException] = []

    def run(index: int, target: Callable[[], Any]) -> None:
        try:
            results[index] = target()
        except BaseException as problem:
            errors.append(problem)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, t)) for i, t in enumerate(targets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    return results


def test_a_reply_is_stored_and_delivered_when_the_live_send_fails(
    bot_api, conversation, operator, monkeypatch
) -> None:
    # given: Redis hiccups under the channel layer (its group_send raises)
    layer = get_channel_layer()

    async def redis_down(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("Connection reset by peer")

    monkeypatch.setattr(layer, "group_send", redis_down)
    client = Client(raise_request_exception=False)
    client.force_login(operator)

    # when
    response = client.post(
        f"/api/v1/conversations/{conversation.pk}/messages/",
        {"kind": "reply", "body": "Уже едет!"},
        content_type="application/json",
    )

    # then: the committed write answers 201 and the delivery still happened
    assert response.status_code == 201, response.content[:300]
    message = Message.objects.get(kind=Message.Kind.OUTBOUND)
    assert message.delivery_status == Message.Delivery.SENT
    [call] = bot_api.called("sendMessage")
    assert call.params == {"chat_id": CUSTOMER_TG["id"], "text": "Уже едет!"}


def test_a_reply_whose_enqueue_failed_answers_201_and_the_sweep_delivers_it_once(
    bot_api, conversation, operator, broker_down, settings
) -> None:
    settings.DELIVERY_STUCK_SECONDS = 60
    client = Client(raise_request_exception=False)
    client.force_login(operator)

    response = client.post(
        f"/api/v1/conversations/{conversation.pk}/messages/",
        {"kind": "reply", "body": "Уже едет!"},
        content_type="application/json",
    )

    assert response.status_code == 201, response.content[:300]
    message = Message.objects.get(kind=Message.Kind.OUTBOUND)
    assert message.delivery_status == Message.Delivery.QUEUED
    assert sweep_stuck_deliveries() == 0  # not stuck yet: its task may still come
    assert bot_api.called("sendMessage") == []


def test_the_sweep_delivers_a_reply_with_no_task_within_a_minute_exactly_once(
    bot_api, conversation, operator, monkeypatch, settings
) -> None:
    # given: a queued reply whose task is gone (Redis restarted with no persistence)
    settings.DELIVERY_STUCK_SECONDS = 60
    lost = _reply_without_task(monkeypatch, conversation, operator, "Ответ")

    # when: the sweep runs a minute later (beat runs it every DELIVERY_SWEEP_SECONDS)
    with _later(61):
        assert sweep_stuck_deliveries() == 1
        assert sweep_stuck_deliveries() == 0  # delivered: nothing left to find

    # then
    lost.refresh_from_db()
    assert lost.delivery_status == Message.Delivery.SENT
    assert lost.delivery_claimed_until is None
    assert [c.params["text"] for c in bot_api.called("sendMessage")] == ["Ответ"]
    assert DeliveryAttempt.objects.filter(message=lost, ok=True).count() == 1


def test_a_reply_claimed_by_a_worker_that_died_is_claimed_again_and_sent_once(
    bot_api, conversation, operator, monkeypatch, settings
) -> None:
    # given: a worker claimed the reply and was killed before it sent anything
    settings.DELIVERY_LEASE_SECONDS = 60
    settings.DELIVERY_STUCK_SECONDS = 60
    message = _reply_without_task(monkeypatch, conversation, operator, "Ответ")
    assert message_services._delivery_claim(message.pk, None) is not None

    # while the claim holds (past DELIVERY_STUCK_SECONDS since the reply was stored), neither
    # the sweep nor a second copy of the task sends it
    settings.DELIVERY_STUCK_SECONDS = 10
    with _later(45):
        assert sweep_stuck_deliveries() == 0
        assert message_services.message_deliver(message_id=message.pk) == "queued"
    assert bot_api.called("sendMessage") == []

    # when: the claim has run out
    with _later(121):
        assert sweep_stuck_deliveries() == 1

    # then
    message.refresh_from_db()
    assert message.delivery_status == Message.Delivery.SENT
    assert message.delivery_tries == 2
    assert len(bot_api.called("sendMessage")) == 1


def test_two_copies_of_the_delivery_task_at_once_send_once(
    bot_api, conversation, operator, monkeypatch
) -> None:
    # given: a queued reply, and two copies of its task (a broker redelivery and the sweep's)
    message = _reply_without_task(monkeypatch, conversation, operator, "Ответ")
    bot_api.open.clear()  # hold Telegram's answer: the first copy stays in flight
    start = threading.Barrier(2)
    finished: list[str] = []

    def copy() -> str:
        start.wait(10)
        outcome = message_services.message_deliver(message_id=message.pk)
        finished.append(outcome)
        return outcome

    outcomes: list[Any] = []
    runner = threading.Thread(target=lambda: outcomes.extend(_run_threads(copy, copy)))
    runner.start()
    # when: one copy is in flight at Telegram, and the other has finished meanwhile
    wait_for(lambda: bot_api.called("sendMessage") and finished)
    assert finished == ["queued"]
    bot_api.open.set()
    runner.join(30)

    # then
    assert sorted(outcomes) == ["queued", "sent"]
    assert len(bot_api.called("sendMessage")) == 1
    message.refresh_from_db()
    assert message.delivery_status == Message.Delivery.SENT
    assert DeliveryAttempt.objects.filter(message=message).count() == 1


_PROBE = """
import json
from django.conf import settings
from smartdesk.celery import app
print(json.dumps({
    "stuck": settings.DELIVERY_STUCK_SECONDS,
    "lease": settings.DELIVERY_LEASE_SECONDS,
    "sweep": app.conf.beat_schedule["sweep-stuck-deliveries"]["schedule"].total_seconds(),
    "visibility": settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"],
    "cancel": settings.CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS,
}))
"""


def _probe(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    clean.update(env, DJANGO_SETTINGS_MODULE="smartdesk.settings")
    return subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", _PROBE],
        cwd=Path(__file__).resolve().parents[3],
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_sweep_runs_every_half_minute_and_its_timers_come_from_the_environment() -> None:
    defaults = json.loads(_probe().stdout)
    tuned = json.loads(_probe(DELIVERY_SWEEP_SECONDS="5", DELIVERY_STUCK_SECONDS="10").stdout)
    legacy = json.loads(_probe(DELIVERY_STUCK_MINUTES="2").stdout)

    assert defaults["stuck"] == 60
    assert defaults["sweep"] == 30
    assert defaults["lease"] == 60
    # Longer than the longest task (an export: 6 h), so nothing running is handed out twice.
    assert defaults["visibility"] > 6 * 3600
    assert defaults["cancel"] is False  # a running send finishes; a copy finds it done
    assert (tuned["sweep"], tuned["stuck"]) == (5, 10)
    assert legacy["stuck"] == 120


def test_a_timer_of_zero_stops_the_process_at_start_up() -> None:
    result = _probe(DELIVERY_SWEEP_SECONDS="0")

    assert result.returncode != 0
    assert "DELIVERY_SWEEP_SECONDS must be a positive number of seconds" in result.stderr
