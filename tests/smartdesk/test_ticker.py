from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from celery import shared_task
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from smartdesk.celery import app
from smartdesk.core.ticker import Ticker

pytestmark = pytest.mark.django_db

SESSIONS_JOB = {"task": "smartdesk.tasks.clear_expired_sessions", "schedule": timedelta(minutes=5)}


@shared_task(name="tests.always_fails")
def always_fails() -> None:
    raise RuntimeError("boom")


def _expired_session() -> str:
    store = SessionStore()
    store["x"] = 1
    store.set_expiry(1)
    store.create()
    Session.objects.filter(session_key=store.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    return store.session_key


def test_the_ticker_runs_a_job_at_start_then_each_time_it_falls_due() -> None:
    ticker = Ticker(app, schedule={"sessions": SESSIONS_JOB})
    with time_machine.travel("2026-01-05 10:00:00+00:00", tick=False) as clock:
        stale = _expired_session()
        assert ticker.run_pending() == ["sessions"]  # caught up at start
        assert not Session.objects.filter(session_key=stale).exists()

        assert ticker.run_pending() == []
        clock.shift(timedelta(minutes=4, seconds=59))
        assert ticker.run_pending() == []
        clock.shift(timedelta(seconds=2))
        assert ticker.run_pending() == ["sessions"]


def test_the_ticker_reads_the_beat_schedule_by_default() -> None:
    assert sorted(Ticker(app).run_pending()) == sorted(app.conf.beat_schedule)


def test_a_failing_job_does_not_stop_the_others() -> None:
    ticker = Ticker(
        app,
        schedule={
            "fails": {"task": "tests.always_fails", "schedule": 60.0},
            "sessions": SESSIONS_JOB,
        },
    )
    stale = _expired_session()

    assert ticker.run_pending() == ["fails", "sessions"]
    assert not Session.objects.filter(session_key=stale).exists()
