"""The AMI listener inside the web process, for the embedded product.

Without Redis the channel layer is in-memory: it reaches only the sockets of the process it
lives in, so a screen-pop published by a separate `ami_listener` process never reaches a
browser. In that shape the web process listens itself: `listeners_start_in_loop()` runs the
same `PbxListener` as the `ami` process, as a task on the web server's own event loop — the
loop the operators' sockets and the in-memory layer live on. Its database work goes through
`sync_to_async` like any Django view, and the events it publishes after commit land in that
loop (asgiref runs them on the outer loop), so a ringing call pops the card on the operator's
socket in the same process.

`TELEPHONY_AMI_IN_PROCESS` (default: on when `REDIS_URL` is not set) turns it on. The server's
loop can only be reached from inside it, and uvicorn imports the application before its loop
runs, so the first HTTP request the server handles starts the listener (a `request_started`
receiver, `telephony/apps.py`; idempotent, and it restarts a supervisor that died). Management
commands serve no request, so `migrate` and friends never listen. PBXs configured later (in
the admin) are picked up within `POLL_SECONDS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections

from telephony.listener import PbxListener
from telephony.selectors import pbx_active_ids

logger = logging.getLogger(__name__)

# How often the supervisor looks for PBXs added or re-activated since it last looked.
POLL_SECONDS = 30.0


def in_process_enabled() -> bool:
    """Whether the web process listens to the PBXs itself (docs/telephony.md)."""
    return bool(settings.TELEPHONY_AMI_IN_PROCESS)


def _active_ids() -> list[int]:
    try:
        return pbx_active_ids()
    finally:
        close_old_connections()  # a poll every half minute needs no connection held between


async def listeners_supervise(
    stop: asyncio.Event, *, poll_seconds: float = POLL_SECONDS, **options: Any
) -> None:
    """One `PbxListener` per active PBX, in this event loop, until `stop` is set.

    Each listener has its own stop event: one that ends by itself (its PBX was deactivated
    or deleted) is started again when its PBX is active at a later poll; `stop` ends all."""
    options.setdefault("redis_url", settings.REDIS_URL)
    options.setdefault("lock_seconds", settings.TELEPHONY_LOCK_SECONDS)
    options.setdefault("backoff_max", settings.TELEPHONY_RECONNECT_MAX_SECONDS)
    options.setdefault("ping_interval", settings.TELEPHONY_PING_SECONDS)
    running: dict[int, tuple[asyncio.Task[None], asyncio.Event]] = {}
    try:
        while not stop.is_set():
            try:
                ids = await sync_to_async(_active_ids)()
            except Exception:  # the database is away: look again at the next poll
                logger.exception("AMI in-process: cannot read the PBXs")
                ids = []
            for pk in ids:
                task = running.get(pk, (None, None))[0]
                if task is None or task.done():
                    own_stop = asyncio.Event()
                    listener = PbxListener(pbx_id=pk, stop=own_stop, **options)
                    running[pk] = (asyncio.create_task(listener.run()), own_stop)
                    logger.info("AMI in-process: listening to PBX %s", pk)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), poll_seconds)
    finally:
        for _task, own_stop in running.values():
            own_stop.set()
        tasks = [task for task, _own_stop in running.values()]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


# The supervisor of this process and its stop event; asyncio keeps only weak references to
# tasks, so this one is held here.
_running: tuple[asyncio.Task[None], asyncio.Event] | None = None


def listeners_start_in_loop(**options: Any) -> asyncio.Task[None] | None:
    """Start the supervisor on the event loop running in this thread, once per process.

    Returns its task, or None when no event loop is running here (a WSGI server, a script):
    then nothing listens, and the log says so."""
    global _running
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        logger.warning(
            "AMI in-process: no event loop running here; calls will not be listened to. "
            "Serve with uvicorn, or set REDIS_URL and run `manage.py ami_listener`."
        )
        return None
    # A task of a loop that is gone (a server restarted in the same process) counts as none.
    if _running is None or _running[0].done() or _running[0].get_loop() is not loop:
        stop = asyncio.Event()
        # A context of its own: started from a request, it must not inherit that request's
        # context (Django's per-request sync thread, which ends with the request).
        task = loop.create_task(
            listeners_supervise(stop, **options),
            name="smartdesk-ami",
            context=contextvars.Context(),
        )
        task.add_done_callback(_ended)
        _running = (task, stop)
        logger.info("AMI in-process: the web process listens to the PBXs")
    return _running[0]


def _ended(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        # The next request starts it again (`listeners_start_in_loop` is called per request).
        logger.error("AMI in-process: the listener stopped", exc_info=task.exception())


async def listeners_stop_in_loop() -> None:
    """Stop the supervisor started by `listeners_start_in_loop` (log off, wait for it)."""
    global _running
    if _running is None:
        return
    task, stop = _running
    _running = None
    stop.set()
    await task
