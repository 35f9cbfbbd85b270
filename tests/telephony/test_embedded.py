"""The embedded product (`make run`: no Redis, the in-memory channel layer) pops the call card:
the web process listens to the PBX itself, on its own event loop, so the screen-pop reaches
an operator's socket in the same process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import HttpCommunicator
from django.apps import apps
from django.core.signals import request_started
from django.test import override_settings

from smartdesk.asgi import application
from telephony import embedded
from telephony.models import Pbx
from tests import factories
from tests.telephony.simulator import AmiSimulator, queue_call
from tests.telephony.test_screen_pop import _next_call_event, _socket

pytestmark = pytest.mark.django_db(transaction=True)

EMBEDDED = {
    "CHANNEL_LAYERS": {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}},
    "REDIS_URL": "",
    "TELEPHONY_AMI_IN_PROCESS": True,  # its default without Redis
}
FAST = {"poll_seconds": 0.05, "backoff_min": 0.01, "backoff_max": 0.05, "ping_interval": 0}


@contextmanager
def _embedded_web_process() -> Iterator[None]:
    """The telephony app as it starts in the embedded web process (its `ready()` with these
    settings), undone afterwards."""
    apps.get_app_config("telephony").ready()
    try:
        yield
    finally:
        request_started.disconnect(dispatch_uid="telephony-ami-in-process")


@override_settings(**EMBEDDED)
def test_a_ringing_call_pops_the_card_on_a_socket_of_the_web_process(pbx, anna, boris) -> None:
    customer = factories.make_customer("Svetlana", "Orlova", phone="+79161234567")
    events = queue_call(hold=12, talk=95)
    until_ringing = next(i for i, e in enumerate(events) if e["Event"] == "DialBegin") + 1
    sockets = {"anna": _socket(anna), "boris": _socket(boris)}
    sim = AmiSimulator()

    async def scenario() -> dict:
        for socket in sockets.values():
            assert (await socket.connect())[0]
        port = await sim.start()
        await sync_to_async(Pbx.objects.filter(pk=pbx.pk).update)(port=port)
        try:
            # the first request the web server serves starts the listener on its loop (this one)
            health = HttpCommunicator(
                application, "GET", "/healthz", headers=[(b"host", b"127.0.0.1")]
            )
            assert (await health.get_response())["status"] == 200
            await sim.wait_logins(1)
            await sim.send(*events[:until_ringing])
            pop = await _next_call_event(sockets["anna"])
            assert await sockets["boris"].receive_nothing(timeout=0.3)
            return pop
        finally:
            await embedded.listeners_stop_in_loop()
            await sim.stop()
            for socket in sockets.values():
                await socket.disconnect()

    with _embedded_web_process():
        pop = async_to_sync(scenario)()
    assert pop["type"] == "call.ringing"
    assert (pop["customer_id"], pop["customer_name"]) == (customer.pk, "Svetlana Orlova")
    # the listener logged off when it was stopped
    assert any(a.get("Action") == "Logoff" for a in sim.actions)


@override_settings(**EMBEDDED)
def test_a_pbx_configured_after_start_up_is_listened_to(anna) -> None:
    sim = AmiSimulator()

    async def scenario() -> None:
        port = await sim.start()
        embedded.listeners_start_in_loop(**FAST)
        try:
            # no PBX at start-up: the web process keeps looking
            await sync_to_async(Pbx.objects.create)(
                name="Main", host="127.0.0.1", port=port, username="smartdesk", secret="s3cret"
            )
            await sim.wait_logins(1)
        finally:
            await embedded.listeners_stop_in_loop()
            await sim.stop()

    async_to_sync(scenario)()
    assert sim.logins == 1


def test_with_redis_the_ami_process_listens_not_the_web_process() -> None:
    def hooked() -> bool:
        with _embedded_web_process():
            keys = [key for key, *_rest in request_started.receivers]
            return any(uid == "telephony-ami-in-process" for uid, _sender in keys)

    with override_settings(TELEPHONY_AMI_IN_PROCESS=False):
        assert not embedded.in_process_enabled() and not hooked()
    with override_settings(TELEPHONY_AMI_IN_PROCESS=True):
        assert embedded.in_process_enabled() and hooked()


@pytest.mark.parametrize(("redis_url", "expected"), [("", True), ("redis://127.0.0.1:1/0", False)])
def test_the_web_process_listens_by_default_only_without_redis(
    redis_url: str, expected: bool
) -> None:
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    env.update(REDIS_URL=redis_url, DJANGO_SETTINGS_MODULE="smartdesk.settings")
    probe = "from django.conf import settings; print(settings.TELEPHONY_AMI_IN_PROCESS)"
    result = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == str(expected)


def test_outside_an_event_loop_nothing_starts() -> None:
    # a management command or a script importing the application: no loop, no listener
    assert embedded.listeners_start_in_loop() is None
