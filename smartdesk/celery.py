"""The Celery app. The beat schedule lives here, in code; the embedded ticker reads it too.

Beat runs with `LeaderScheduler`: any number of beats may run (a rolling update, a second
replica, a node that only seems dead), but only the one holding the leader lock in Redis
sends periodic jobs; the others wait as standbys and take over within `BEAT_LOCK_SECONDS`
of the leader stopping. When each job last ran is kept in Redis too, so a standby that takes
over keeps the leader's rhythm instead of running everything again.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta
from typing import Any

from celery import Celery
from celery.app import backends
from celery.beat import PersistentScheduler
from celery.signals import task_postrun, task_prerun
from django.conf import settings

logger = logging.getLogger("smartdesk.beat")

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smartdesk.settings")


class SmartdeskCelery(Celery):
    """Celery, with the result backend's class resolved once per process.

    Celery keeps a backend per thread (most are not thread-safe), and building one resolves
    its class through `backends.by_url`, which scans every installed package's entry points
    on disk. Django runs each request's sync code in a new thread, so every request that
    queued a task paid that scan (about a tenth of the web process's CPU at 20 inbound
    messages a second, bench/live.py). The class and URL do not change in a process; the
    instance stays per thread, as Celery wants.
    """

    _resolved_backend: tuple[Any, str | None] | None = None

    def _get_backend(self) -> Any:
        if self._resolved_backend is None:
            self._resolved_backend = backends.by_url(
                self.backend_cls or self.conf.result_backend, self.loader
            )
        backend, url = self._resolved_backend
        return backend(app=self, url=url)


app = SmartdeskCelery("smartdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _connections_as_for_a_request(task: Any = None, **kwargs: Any) -> None:
    """Before and after each task in a worker, what Django does around a request: a
    connection past its age, or one a query found broken, is closed; with the pool, "closed"
    hands it back to the pool, which keeps it open for the next task (and checks it before
    lending it again: `CONN_HEALTH_CHECKS`). Celery's own fix-up would close the pool itself
    each time (`CELERY_DB_REUSE_MAX`). An eager task runs inside its caller's request and
    transaction: it is left alone."""
    if task is not None and getattr(task.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()


task_prerun.connect(_connections_as_for_a_request, weak=False, dispatch_uid="sd-db-prerun")
task_postrun.connect(_connections_as_for_a_request, weak=False, dispatch_uid="sd-db-postrun")

app.conf.beat_schedule = {
    "clear-expired-sessions": {
        "task": "smartdesk.tasks.clear_expired_sessions",
        "schedule": timedelta(hours=1),
    },
    # Snoozed conversations already read as open when due; this materialises the change,
    # writes the audit event and rings the assignee.
    "wake-due-conversations": {
        "task": "chats.tasks.wake_due_conversations",
        "schedule": timedelta(seconds=30),
    },
    # Undo for close (docs/conversations.md): settle every close past its undo window (the
    # survey, AI summary and classification) that its countdown task did not; idempotent.
    "settle-closed-conversations": {
        "task": "chats.tasks.settle_closed_conversations",
        "schedule": timedelta(seconds=5),
    },
    # Distribution's safety net: presence timeouts, reassigning the unanswered conversations
    # of away operators, load reconciliation and a pass over every team queue.
    "distribution-sweep": {
        "task": "chats.tasks.distribution_sweep",
        "schedule": timedelta(seconds=30),
    },
    # Channels (docs/channels.md): Telegram updates stored but never processed are queued
    # again; the delivery outbox queues again every reply whose task was lost (a worker
    # killed, a broker restarted empty) or whose claim ran out, within a minute.
    "sweep-telegram-updates": {
        "task": "chats.channels.tasks.sweep_telegram_updates",
        "schedule": timedelta(minutes=1),
    },
    "sweep-stuck-deliveries": {
        "task": "chats.channels.tasks.sweep_stuck_deliveries",
        # Read with a default: importing the `smartdesk` package (any of its modules) imports
        # this one, also under a settings module that is not ours (bench/live_bare.py).
        "schedule": timedelta(seconds=getattr(settings, "DELIVERY_SWEEP_SECONDS", 30)),
    },
    "prune-live-events": {
        "task": "chats.tasks.prune_live_events",
        "schedule": timedelta(hours=1),
    },
    # History partitions (docs/partitions.md): messages by month, live events by
    # day, created ahead of time (PostgreSQL; a no-op on SQLite). Idempotent.
    "maintain-partitions": {
        "task": "smartdesk.tasks.maintain_partitions",
        "schedule": timedelta(hours=1),
    },
    # Loyalty: expire points and move tiers as spend leaves the 12-month window (idempotent).
    "loyalty-sweep": {
        "task": "customers.tasks.loyalty_sweep",
        "schedule": timedelta(hours=1),
    },
    # Telephony: release operators whose wrap-up countdown the broker lost; close calls whose
    # Hangup never arrived (listener down). Both idempotent.
    "telephony-calls-sweep": {
        "task": "telephony.tasks.calls_sweep",
        "schedule": timedelta(seconds=30),
    },
    # Offers: recount "often bought together" over all orders.
    "rebuild-item-associations": {
        "task": "customers.tasks.rebuild_item_associations",
        "schedule": timedelta(hours=24),
    },
    # Statistics: a minute of operator presence, then the hourly roll-ups brought up to date
    # (incremental, idempotent, one run at a time). docs/kpis.md
    "analytics-rollup": {
        "task": "analytics.tasks.rollup_tick",
        "schedule": timedelta(seconds=60),
    },
    # AI: retrain the classifier when operators corrected it since the last model.
    "ai-retrain-classifier": {
        "task": "analytics.ai.retrain_classifier",
        "schedule": timedelta(hours=24),
    },
    # --- AI trends and anomalies ---
    # Contacts per hour and segment against their seasonal baseline; one alert per spike.
    "ai-anomaly-check": {
        "task": "analytics.tasks.anomaly_check",
        "schedule": timedelta(minutes=10),
    },
}
app.conf.beat_scheduler = "smartdesk.celery:LeaderScheduler"


def _key(suffix: str) -> str:
    # The cache's key prefix keeps installations (and test runs) sharing a Redis apart.
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "") or "smartdesk"
    return f"{prefix}:beat:{suffix}"


class LeaderScheduler(PersistentScheduler):
    """A beat scheduler that sends jobs only while it holds the leader lock.

    The lock is a Redis key with a TTL (`BEAT_LOCK_SECONDS`) that the leader renews at every
    tick (a tick is at most a third of the TTL away). A leader that cannot renew — the key
    expired while it was stalled and a standby took it, or Redis is unreachable — stops
    sending at once and becomes a standby. Without Redis (a broker of another kind) there is
    no lock: run exactly one beat then.

    It is a Redis lock rather than a PostgreSQL advisory lock on purpose: behind PgBouncer in
    transaction mode a session-level advisory lock is not tied to our connection (the server
    connection is handed to other clients between transactions), so it would guard nothing.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.lock_seconds = float(settings.BEAT_LOCK_SECONDS)
        self.leader = False
        self._standby_logged = False
        self._redis: Any = None
        self._lock: Any = None
        if settings.REDIS_URL:
            import redis

            self._redis = redis.Redis.from_url(
                settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=5
            )
            self._lock = self._redis.lock(
                _key("leader"), timeout=self.lock_seconds, thread_local=False
            )
        else:
            logger.warning("beat: no REDIS_URL, so no leader lock: run exactly one beat")
        super().__init__(*args, **kwargs)

    # -- the lock --

    def _hold(self) -> bool:
        """Renew the lock (leader) or try to take it (standby); whether we lead now."""
        from redis.exceptions import LockError, RedisError

        try:
            if self.leader:
                try:
                    self._lock.reacquire()
                    return True
                except LockError:
                    self.leader = False
                    logger.error("beat: lost the leader lock; standing by")
            if self._lock.acquire(blocking=False):
                self.leader = True
                self._standby_logged = False
                logger.info("beat: leader now (lock %s)", _key("leader"))
                self._adopt_shared_times()
                return True
        except RedisError as error:
            if self.leader:
                logger.error("beat: cannot renew the leader lock (%s); standing by", error)
            self.leader = False
            return False
        if not self._standby_logged:
            logger.info("beat: another beat leads; standing by")
            self._standby_logged = True
        return False

    def _adopt_shared_times(self) -> None:
        """Take over the last-run times the previous leader recorded.

        A job with no shared time (Redis restarted empty, the hash evicted, a first start)
        counts as run now: it waits one period. Our own local times may be days old, and
        trusting them would send every shorter job at once although the previous leader has
        just run it. The times we settle on are written back at once, for the next leader.
        """
        stored = {
            raw_name.decode(): datetime.fromisoformat(raw_when.decode())
            for raw_name, raw_when in self._redis.hgetall(_key("last-run")).items()
        }
        now = self.app.now()
        for name, entry in self.schedule.items():
            when = stored.get(name)
            if when is None:
                entry.last_run_at = now
            elif entry.last_run_at is None or when > entry.last_run_at:
                entry.last_run_at = when
        self._heap = None  # rebuilt from the adopted times at the next tick
        shared = {
            name: entry.last_run_at.isoformat()
            for name, entry in self.schedule.items()
            if entry.last_run_at is not None
        }
        if shared:
            self._redis.hset(_key("last-run"), mapping=shared)

    # -- the scheduler --

    def tick(self, *args: Any, **kwargs: Any) -> float:
        if self._lock is None:
            return super().tick(*args, **kwargs)
        renew_every = self.lock_seconds / 3
        if not self._hold():
            return renew_every
        return min(super().tick(*args, **kwargs), renew_every)

    def reserve(self, entry: Any) -> Any:
        new_entry = super().reserve(entry)
        if self._redis is not None and self.leader:
            from redis.exceptions import RedisError

            try:
                self._redis.hset(
                    _key("last-run"), new_entry.name, new_entry.last_run_at.isoformat()
                )
            except RedisError as error:
                logger.warning("beat: cannot record %s's last run: %s", new_entry.name, error)
        return new_entry

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self._lock is not None and self.leader:
                from redis.exceptions import LockError, RedisError

                try:
                    self._lock.release()
                    logger.info("beat: released the leader lock")
                except (LockError, RedisError) as error:  # expired, or Redis gone: fine
                    logger.info("beat: leader lock not released (%s)", error)
                self.leader = False
