"""`python manage.py ami_listener`: the `ami` process (deploy/Procfile)."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection

from telephony.embedded import in_process_enabled
from telephony.listener import run_listeners
from telephony.models import Pbx

WAIT_SECONDS = 30


def _active_ids() -> list[int]:
    return list(Pbx.objects.filter(is_active=True).order_by("pk").values_list("pk", flat=True))


async def _wait_for_a_pbx() -> list[int]:
    """Until a PBX is configured (its ids) or the process is told to stop ([])."""
    from asgiref.sync import sync_to_async

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    def look() -> list[int]:
        try:
            return _active_ids()
        finally:
            connection.close()  # a poll every half minute needs no connection held between

    while not stop.is_set():
        ids = await sync_to_async(look, thread_sensitive=False)()
        if ids:
            return ids
        try:
            await asyncio.wait_for(stop.wait(), timeout=WAIT_SECONDS)
        except TimeoutError:
            continue
    return []


async def _idle() -> None:
    """Until the process is told to stop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


class Command(BaseCommand):
    help = "Listen to the AMI of every active PBX (one Redis lock per PBX) and build calls."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--pbx", type=int, action="append", help="Only this PBX id.")

    def handle(self, *args: Any, **options: Any) -> None:
        if in_process_enabled():
            # The in-memory channel layer reaches only the sockets of its own process: the web
            # process listens itself (telephony/embedded.py). A second listener here would
            # only race it for events, and the screen-pops it won would reach nobody.
            self.stderr.write(
                "The web process listens to the PBXs itself (TELEPHONY_AMI_IN_PROCESS: no "
                "REDIS_URL, so the channel layer is in-memory); this process stays idle. "
                "Set REDIS_URL to listen here."
            )
            asyncio.run(_idle())
            return
        ids = options["pbx"] or _active_ids()
        if not ids:
            # Waiting rather than exiting: the process runs beside web and worker (honcho,
            # Kubernetes), and one of them ending would stop or restart the others.
            self.stderr.write(
                "No active PBX is configured (admin: Telephony > PBXs); checking every "
                f"{WAIT_SECONDS} s."
            )
            ids = asyncio.run(_wait_for_a_pbx())
            if not ids:
                return
        if not settings.REDIS_URL:
            self.stderr.write(
                "REDIS_URL is not set: no listener lock. Run one ami_listener process only."
            )
        asyncio.run(self._run(ids))

    async def _run(self, ids: list[int]) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            # Graceful shutdown: log off, release the lock, finish the event in hand.
            loop.add_signal_handler(sig, stop.set)
        self.stdout.write(f"Listening to PBX {', '.join(map(str, ids))}")
        await run_listeners(ids, stop)
        self.stdout.write("Stopped.")
