"""Telephony fixtures: a PBX, operators with extensions, and a harness that runs the real
listener against the AMI simulator inside one event loop."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings

from accounts.models import OperatorProfile, User
from telephony.listener import PbxListener
from telephony.models import Pbx
from tests.telephony.simulator import AmiSimulator


def set_extension(user: User, extension: str) -> None:
    OperatorProfile.objects.filter(user=user).update(phone_extension=extension)


@pytest.fixture
def pbx(db: None) -> Pbx:
    return Pbx.objects.create(
        name="Main", host="127.0.0.1", port=1, username="smartdesk", secret="s3cret"
    )


@pytest.fixture
def anna(operator: User) -> User:
    set_extension(operator, "PJSIP/101")
    return operator


@pytest.fixture
def boris(teammate: User) -> User:
    set_extension(teammate, "PJSIP/102")
    return teammate


class Harness:
    """The simulator plus a running `PbxListener`; `wait_applied(n)` waits until n events
    have gone through the services (no sleeps: a condition the listener signals)."""

    def __init__(self, pbx_id: int, **listener_options: Any) -> None:
        self.pbx_id = pbx_id
        self.sim = AmiSimulator()
        self.stop = asyncio.Event()
        self.seen = 0
        self.outcomes: list[str] = []
        self._changed = asyncio.Condition()
        self.options = {
            "redis_url": settings.REDIS_URL,
            "backoff_min": 0.01,
            "backoff_max": 0.05,
            "ping_interval": 0,
            **listener_options,
        }
        self.listener: PbxListener | None = None
        self.task: asyncio.Task[None] | None = None

    def _applied(self, fields: dict[str, str], outcome: str) -> None:
        self.seen += 1
        self.outcomes.append(outcome)

        async def notify() -> None:
            async with self._changed:
                self._changed.notify_all()

        asyncio.get_running_loop().create_task(notify())

    async def start(self) -> Harness:
        port = await self.sim.start()
        await sync_to_async(Pbx.objects.filter(pk=self.pbx_id).update)(port=port)
        self.listener = PbxListener(
            pbx_id=self.pbx_id, stop=self.stop, on_applied=self._applied, **self.options
        )
        self.task = asyncio.create_task(self.listener.run())
        await self.sim.wait_logins(1)
        return self

    async def wait_applied(self, count: int, timeout: float = 15) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: self.seen >= count), timeout)

    async def play(self, events: list[dict[str, object]]) -> None:
        target = self.seen + len(events)
        await self.sim.send(*events)
        await self.wait_applied(target)

    async def close(self) -> None:
        self.stop.set()
        if self.task is not None:
            await asyncio.wait_for(self.task, 10)
        await self.sim.stop()
