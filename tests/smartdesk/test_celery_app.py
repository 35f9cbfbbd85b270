"""The Celery app as the web process uses it: queuing a task from a new thread is cheap."""

from __future__ import annotations

import threading

import pytest
from celery.app import backends
from django.db import connection, transaction

from smartdesk import celery as celery_module


def test_the_result_backend_is_resolved_once_per_process_not_per_thread(monkeypatch) -> None:
    # Django runs each request's sync code in a new thread; resolving the backend scans every
    # installed package's entry points, so it must not happen again in each of them.
    resolved = []
    real = backends.by_url

    def counting(*args, **kwargs):
        resolved.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(backends, "by_url", counting)
    monkeypatch.setattr(celery_module.app, "_resolved_backend", None, raising=False)
    seen = []

    def in_a_new_thread() -> None:
        seen.append(celery_module.app.backend)

    for _ in range(3):
        thread = threading.Thread(target=in_a_new_thread)
        thread.start()
        thread.join()

    assert len(resolved) == 1
    assert len(seen) == 3
    assert len({type(backend) for backend in seen}) == 1


def _queue_of(name: str) -> str:
    route = celery_module.app.amqp.router.route({}, name, args=(), kwargs={})
    return route["queue"].name


def test_heavy_work_has_a_queue_of_its_own_and_what_people_wait_for_keeps_the_default() -> None:
    from django.conf import settings

    celery_module.app.loader.import_default_modules()
    registered = set(celery_module.app.tasks)
    # every task named for the background queue exists (a typo would route nothing)
    assert set(settings.BACKGROUND_TASKS) <= registered
    for name in settings.BACKGROUND_TASKS:
        assert _queue_of(name) == settings.BACKGROUND_QUEUE, name
    waited_for = [
        # the label raises priority and routes by topic before assignment
        "analytics.ai.classify_conversation",
        # samples presence for the minute it runs in
        "analytics.tasks.rollup_tick",
        "chats.channels.tasks.deliver_reply",
        "chats.tasks.assign_conversation",
        "chats.tasks.fill_operator",
        "chats.channels.tasks.process_telegram_update",
        "telephony.tasks.call_originate_send",
        "chats.tasks.wake_due_conversations",
        "chats.channels.tasks.sweep_stuck_deliveries",
        "analytics.tasks.request_csat",
    ]
    assert set(waited_for) <= registered
    for name in waited_for:
        assert _queue_of(name) == "celery", name
    # a worker started without -Q (an older unit file, a custom manifest) takes both
    assert set(celery_module.app.amqp.queues) == {"celery", settings.BACKGROUND_QUEUE}


def test_every_queue_has_a_worker_in_the_procfile() -> None:
    """deploy/Procfile (and `make run` through it): a queue no process consumes would hold its
    tasks for ever."""
    from pathlib import Path

    procfile = Path(__file__).resolve().parents[2] / "deploy" / "Procfile"
    consumed: dict[str, str] = {}
    for line in procfile.read_text().splitlines():
        name, _, command = line.partition(":")
        words = command.split()
        if "worker" in words and "-Q" in words:
            for queue in words[words.index("-Q") + 1].split(","):
                consumed[queue] = name
    assert consumed == {"celery": "worker", "background": "background"}
    background = next(
        line for line in procfile.read_text().splitlines() if line.startswith("background:")
    )
    # the heavy work yields the CPU to the live path where they share a machine
    assert background.split()[1:3] == ["nice", "-n"]


# --- database connections around a task (docs/live.md, "Kept between tasks") -----------------


@celery_module.app.task(name="tests.smartdesk.reads_the_database")
def _reads_the_database() -> int:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.count()


@pytest.mark.django_db(transaction=True)
def test_a_task_run_by_a_worker_hands_its_connection_back_when_it_ends() -> None:
    from celery.app.trace import build_tracer

    # as a worker runs it: not eagerly, with the signals around it
    tracer = build_tracer(
        _reads_the_database.name, _reads_the_database, eager=False, app=celery_module.app
    )
    traced = tracer("worker-run", (), {}, {"is_eager": False})

    assert traced.info is None, traced.info  # the task ran (a failure is kept here, not raised)
    # handed back to the pool (the suite's connections have no age to keep: the pool's, or
    # DB_CONN_MAX_AGE=0 in smartdesk.settings_test), as at the end of a request
    assert connection.connection is None


@pytest.mark.django_db
def test_an_eager_task_leaves_its_callers_connection_and_transaction_alone() -> None:
    with transaction.atomic():
        before = _reads_the_database.apply().get()
        # the caller's connection is still open, in the caller's transaction
        assert not connection.closed_in_transaction
        assert connection.in_atomic_block
        assert not connection.needs_rollback
        assert _reads_the_database() == before
