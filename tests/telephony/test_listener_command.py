"""The `ami` process waits for a PBX to be configured instead of exiting (an exit would stop
the processes honcho or Kubernetes runs beside it)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from telephony.management.commands import ami_listener
from telephony.models import Pbx


@pytest.mark.django_db(transaction=True)
def test_with_no_pbx_the_listener_waits_and_picks_up_the_first_one_configured(monkeypatch):
    monkeypatch.setattr(ami_listener, "WAIT_SECONDS", 0.05)
    found: list[list[int]] = []
    waiting = threading.Thread(target=lambda: found.append(asyncio.run(_wait())))
    checked = threading.Event()
    original = ami_listener._active_ids

    def counting() -> list[int]:
        ids = original()
        checked.set()
        return ids

    monkeypatch.setattr(ami_listener, "_active_ids", counting)
    waiting.start()
    assert checked.wait(timeout=10)  # it looked, found none, and is still waiting
    assert waiting.is_alive()

    pbx = Pbx.objects.create(name="Main PBX", host="127.0.0.1", port=5038, username="u", secret="s")

    waiting.join(timeout=10)
    assert found == [[pbx.pk]]


async def _wait() -> list[int]:
    # signal handlers can only be installed in the main thread: test the polling loop only
    loop = asyncio.get_running_loop()
    loop.add_signal_handler = lambda *args: None  # type: ignore[method-assign]
    return await ami_listener._wait_for_a_pbx()
