"""A beat taking the leader lock keeps the previous leader's rhythm, even when the shared
last-run times are gone (Redis restarted without persistence, or the hash was evicted): it
never falls back to its own local schedule file, which may be days old."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis
from celery.beat import PersistentScheduler
from django.conf import settings

from smartdesk.celery import LeaderScheduler, _key, app


@pytest.fixture
def shared():
    # The suite's own private redis-server (settings_test starts one); only our keys.
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(_key("last-run"), _key("leader"))
    yield client
    client.delete(_key("last-run"), _key("leader"))


def _stale_local_schedule(path: str, age: timedelta) -> None:
    """The schedule file of a beat that last led `age` ago."""
    old = PersistentScheduler(app=app, schedule_filename=path)
    for entry in old.schedule.values():
        entry.last_run_at = app.now() - age
    old.sync()
    old.close()


def _due(scheduler: LeaderScheduler) -> list[str]:
    return sorted(name for name, entry in scheduler.schedule.items() if entry.is_due().is_due)


def _leader(path: str, sent: list[str]) -> LeaderScheduler:
    scheduler = LeaderScheduler(app=app, schedule_filename=path)
    scheduler.apply_async = lambda entry, *a, **kw: sent.append(entry.name)  # the broker
    return scheduler


def test_taking_over_with_no_shared_times_does_not_run_every_job_at_once(shared, tmp_path) -> None:
    path = str(tmp_path / "beat-schedule")
    _stale_local_schedule(path, timedelta(days=3))
    sent: list[str] = []
    scheduler = _leader(path, sent)
    try:
        scheduler.tick()
        assert scheduler.leader
        assert sent == []
        assert _due(scheduler) == []
        # the times settled on are shared at once, for the next leader
        recorded = {k.decode() for k in shared.hgetall(_key("last-run"))}
        assert recorded == set(scheduler.schedule)
    finally:
        scheduler.close()


def test_taking_over_adopts_the_shared_times(shared, tmp_path) -> None:
    path = str(tmp_path / "beat-schedule")
    _stale_local_schedule(path, timedelta(days=3))
    now = app.now()
    shared.hset(
        _key("last-run"),
        mapping={
            name: (
                now - timedelta(days=2) if name == "rebuild-item-associations" else now
            ).isoformat()
            for name in app.conf.beat_schedule
        },
    )
    sent: list[str] = []
    scheduler = _leader(path, sent)
    try:
        scheduler.tick()
        assert scheduler.leader
        # only the job the previous leader left overdue (24-hour period, run 2 days ago) goes
        assert sent == ["rebuild-item-associations"]
    finally:
        scheduler.close()
