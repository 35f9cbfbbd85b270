"""The AMI listener: one asyncio task per PBX, each holding that PBX's Redis lock.

For each PBX: take the lock (or wait while another process holds it), connect, read the
banner, log in, then apply every event through `services.call_event_apply` one at a time, in
arrival order (Asterisk orders events only within one channel, so the services never assume
more). A dropped connection is retried with exponential backoff and jitter; a lost lock
drops the connection at once (someone else is listening now). Shutdown logs off and
releases the lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.utils import timezone

from telephony.ami import AmiConnection, AmiError, AmiLoginError
from telephony.models import Pbx
from telephony.services import Outcome, call_event_apply

logger = logging.getLogger(__name__)


def lock_name(pbx_id: int) -> str:
    # The cache's key prefix keeps installations (and test runs) sharing a Redis apart.
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "") or "smartdesk"
    return f"{prefix}:telephony:ami-lock:{pbx_id}"


@dataclass
class Stats:
    connects: int = 0
    applied: int = 0
    duplicates: int = 0
    ignored: int = 0
    failed: int = 0
    garbage: int = 0


def _apply_batch(pbx_id: int, batch: list[dict[str, str]]) -> list[str]:
    """Apply the events already waiting, in order, in one transaction (one commit, one fsync,
    instead of one per event); each event in its own savepoint, so a bad one fails alone.
    Their realtime events go out at this commit: a backlog never delays a screen-pop more
    than the batch it is in. A dropped database connection gets one fresh try."""
    try:
        return _apply_in_one_transaction(pbx_id, batch)
    except DatabaseError:
        close_old_connections()
        connection.close()
        return _apply_in_one_transaction(pbx_id, batch)


def _apply_in_one_transaction(pbx_id: int, batch: list[dict[str, str]]) -> list[str]:
    outcomes = []
    received_at = timezone.now()
    with transaction.atomic():
        for fields in batch:
            try:
                outcomes.append(
                    call_event_apply(pbx_id=pbx_id, fields=fields, received_at=received_at)
                )
            except Exception:  # one bad event must not stop the floor's telephony
                logger.exception("AMI pbx=%s: cannot apply %s", pbx_id, fields.get("Event"))
                outcomes.append("failed")
    return outcomes


@dataclass
class PbxListener:
    """Listens to one PBX until `stop` is set."""

    pbx_id: int
    stop: asyncio.Event
    redis_url: str = ""
    backoff_min: float = 0.5
    backoff_max: float = 30.0
    lock_seconds: float = 30.0
    ping_interval: float = 20.0
    # Events applied in one transaction at most (only those already received: never waits).
    batch_size: int = 200
    # Called (in the event loop) after each event is applied: tests and the benchmark wait
    # on it instead of sleeping.
    on_applied: Callable[[dict[str, str], str], Any] | None = None
    stats: Stats = field(default_factory=Stats)
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    _connection: AmiConnection | None = None

    async def run(self) -> None:
        attempt = 0
        lock = None
        redis = None
        if self.redis_url:
            import redis.asyncio as aioredis

            redis = aioredis.from_url(self.redis_url)
            lock = redis.lock(lock_name(self.pbx_id), timeout=self.lock_seconds)
        try:
            while not self.stop.is_set():
                if lock is not None and not await self._acquire(lock):
                    break
                try:
                    await self._session(lock)
                    attempt = 0
                except AmiLoginError as error:
                    logger.error("AMI pbx=%s: login refused: %s", self.pbx_id, error)
                    attempt += 1
                except (AmiError, OSError) as error:
                    level = logging.INFO if self.stop.is_set() else logging.WARNING
                    logger.log(level, "AMI pbx=%s: %s", self.pbx_id, error)
                    # A session that was up retries at once; failed connects back off.
                    attempt = 0 if self.connected.is_set() else attempt + 1
                finally:
                    self.connected.clear()
                if self.stop.is_set():
                    break
                delay = min(self.backoff_max, self.backoff_min * (2 ** min(attempt, 16)))
                delay = delay / 2 + random.random() * delay / 2  # noqa: S311 - jitter only
                await self._wait_stop(delay)
        finally:
            if lock is not None:
                with contextlib.suppress(Exception):
                    await lock.release()
            if redis is not None:
                await redis.aclose()

    async def _acquire(self, lock: Any) -> bool:
        """Wait for the PBX's lock; False when asked to stop first."""
        while not self.stop.is_set():
            if await lock.owned() or await lock.acquire(blocking=False):
                return True
            logger.info("AMI pbx=%s: another listener holds the lock; waiting", self.pbx_id)
            await self._wait_stop(self.lock_seconds / 3)
        return False

    async def _wait_stop(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), seconds)

    async def _session(self, lock: Any) -> None:
        pbx = await sync_to_async(Pbx.objects.filter(pk=self.pbx_id, is_active=True).first)()
        if pbx is None:
            logger.info("AMI pbx=%s: gone or inactive; stopping", self.pbx_id)
            self.stop.set()
            return
        connection = AmiConnection(pbx.host, pbx.port, ping_interval=self.ping_interval)
        self._connection = connection
        keeper = asyncio.create_task(self._keep_lock(lock, connection)) if lock else None
        stopper = asyncio.create_task(self._close_on_stop(connection))
        try:
            banner = await connection.connect()
            await connection.login(pbx.username, pbx.secret)
            self.stats.connects += 1
            self.connected.set()
            logger.info("AMI pbx=%s: connected to %s (%s)", self.pbx_id, pbx.host, banner)
            apply = sync_to_async(_apply_batch, thread_sensitive=True)
            async for fields in connection.events():
                batch = [fields, *connection.drain(self.batch_size - 1)]
                outcomes = await self._apply(apply, batch)
                for event, outcome in zip(batch, outcomes, strict=True):
                    if self.on_applied is not None:
                        self.on_applied(event, outcome)
        finally:
            self.stats.garbage += connection.parser.garbage
            for task in (keeper, stopper):
                if task is not None:
                    task.cancel()
            await connection.close(logoff=self.stop.is_set())
            self._connection = None

    async def _apply(self, apply: Any, batch: list[dict[str, str]]) -> list[str]:
        try:
            outcomes = await apply(self.pbx_id, batch)
        except Exception:  # the database is gone: log, count, keep listening
            logger.exception("AMI pbx=%s: cannot apply %d events", self.pbx_id, len(batch))
            outcomes = ["failed"] * len(batch)
        for outcome in outcomes:
            if outcome == Outcome.APPLIED:
                self.stats.applied += 1
            elif outcome == Outcome.DUPLICATE:
                self.stats.duplicates += 1
            elif outcome == Outcome.IGNORED:
                self.stats.ignored += 1
            else:
                self.stats.failed += 1
        return outcomes

    async def _keep_lock(self, lock: Any, connection: AmiConnection) -> None:
        from redis.exceptions import LockError

        while True:
            await asyncio.sleep(self.lock_seconds / 3)
            try:
                await lock.reacquire()
            except LockError:
                # Expired (this loop was held up past the TTL): take it again if nobody else
                # did; if another listener has it, it listens now and we step back.
                if await lock.acquire(blocking=False):
                    logger.warning("AMI pbx=%s: listener lock expired; retaken", self.pbx_id)
                    continue
                logger.error("AMI pbx=%s: lost the listener lock; disconnecting", self.pbx_id)
                connection.interrupt(AmiError("lost the listener lock"))
                return

    async def _close_on_stop(self, connection: AmiConnection) -> None:
        # Only ends the event stream; the session then logs off and closes by itself.
        await self.stop.wait()
        connection.interrupt(AmiError("shutting down"))


async def run_listeners(
    pbx_ids: list[int], stop: asyncio.Event, **options: Any
) -> list[PbxListener]:
    """Run one listener per PBX until `stop` is set."""
    options.setdefault("redis_url", settings.REDIS_URL)
    options.setdefault("lock_seconds", settings.TELEPHONY_LOCK_SECONDS)
    options.setdefault("backoff_max", settings.TELEPHONY_RECONNECT_MAX_SECONDS)
    options.setdefault("ping_interval", settings.TELEPHONY_PING_SECONDS)
    listeners = [PbxListener(pbx_id=pk, stop=stop, **options) for pk in pbx_ids]
    await asyncio.gather(*(listener.run() for listener in listeners))
    return listeners
