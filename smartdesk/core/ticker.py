"""The embedded stand-in for `celery beat`.

With no broker, Celery runs tasks eagerly and there is no beat process, so the web process
runs this ticker in a daemon thread. It reads the same `beat_schedule` as beat and runs each
job once at start-up (so work that fell due while the product was down is caught up), then
whenever its schedule says it is due.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from celery import Celery
from celery.schedules import BaseSchedule, maybe_schedule
from django.db import close_old_connections

logger = logging.getLogger(__name__)


@dataclass
class _Entry:
    name: str
    task: str
    schedule: BaseSchedule
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    last_run_at: datetime | None = None


class Ticker:
    def __init__(self, app: Celery, schedule: dict[str, dict[str, Any]] | None = None) -> None:
        self._app = app
        app.loader.import_default_modules()
        source = app.conf.beat_schedule if schedule is None else schedule
        self._entries = [
            _Entry(
                name=name,
                task=spec["task"],
                schedule=maybe_schedule(spec["schedule"], app=app),
                args=tuple(spec.get("args", ())),
                kwargs=dict(spec.get("kwargs", {})),
            )
            for name, spec in source.items()
        ]

    def run_pending(self) -> list[str]:
        """Run every job that is due now; return the names of those that ran."""
        ran = []
        for entry in self._entries:
            if entry.last_run_at is not None:
                is_due, _next = entry.schedule.is_due(entry.last_run_at)
                if not is_due:
                    continue
            entry.last_run_at = self._app.now()
            try:
                self._app.tasks[entry.task].apply_async(entry.args, entry.kwargs)
            except Exception:
                # A failing job must not stop the others, nor the ticker.
                logger.exception("periodic job %s failed", entry.name)
            ran.append(entry.name)
        return ran

    def run_until(self, stop: threading.Event, interval: float = 1.0) -> None:
        while True:
            try:
                self.run_pending()
            finally:
                close_old_connections()
            if stop.wait(interval):
                return


_started: threading.Event | None = None
_lock = threading.Lock()


def start_in_background(app: Celery) -> threading.Event:
    """Start the ticker thread once per process; return the event that stops it."""
    global _started
    with _lock:
        if _started is None:
            _started = threading.Event()
            thread = threading.Thread(
                target=Ticker(app).run_until, args=(_started,), name="smartdesk-ticker", daemon=True
            )
            thread.start()
            logger.info("embedded ticker started: periodic jobs run in the web process")
        return _started
