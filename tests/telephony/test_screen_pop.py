"""The screen-pop reaches the rung operator's socket before the call is answered (before the
PBX even sends AgentConnect), and reaches no other operator."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from smartdesk.asgi import application
from telephony.models import Call
from tests import factories
from tests.live import OperatorSocket
from tests.telephony.conftest import Harness
from tests.telephony.simulator import queue_call

pytestmark = pytest.mark.django_db(transaction=True)


def _socket(user) -> WebsocketCommunicator:
    client = Client()
    client.force_login(user)
    return OperatorSocket(
        application,
        "/ws/operator/",
        headers=[
            (b"origin", b"http://127.0.0.1"),
            (b"host", b"127.0.0.1"),
            (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
        ],
    )


async def _next_call_event(socket: WebsocketCommunicator, timeout: float = 10) -> dict:
    while True:
        message = await socket.receive_json_from(timeout=timeout)
        if str(message.get("type", "")).startswith("call."):
            return message


def test_the_rung_operator_sees_the_caller_before_answering_and_nobody_else_does(
    pbx, anna, boris, admin_user
) -> None:
    customer = factories.make_customer("Svetlana", "Orlova", phone="+79161234567")
    events = queue_call(hold=12, talk=95)
    agent_connect = next(i for i, e in enumerate(events) if e["Event"] == "AgentConnect")
    # the PBX rings Anna; the test sends nothing more until her browser has shown the pop
    until_ringing = next(i for i, e in enumerate(events) if e["Event"] == "DialBegin") + 1
    sockets = {"anna": _socket(anna), "boris": _socket(boris), "pavel": _socket(admin_user)}

    async def scenario() -> None:
        for socket in sockets.values():
            assert (await socket.connect())[0]
        harness = await Harness(pbx.pk).start()
        try:
            await harness.sim.send(*events[:until_ringing])
            pop = await _next_call_event(sockets["anna"])
            # received while the call is still unanswered: AgentConnect has not even been sent
            state = await sync_to_async(Call.objects.values_list("state", "answered_at").get)()
            assert state == (Call.State.QUEUED, None)
            assert pop["type"] == "call.ringing"
            assert pop["customer_id"] == customer.pk
            assert pop["customer_name"] == "Svetlana Orlova"
            # anna's role does not see customers' personal data: the number as on the card
            assert pop["caller"] == "+7•••67"
            assert pop["queue"] == "support"
            assert pop["card_url"] == f"/telephony/calls/{pop['call_id']}/card/"
            for other in ("boris", "pavel"):
                assert await sockets[other].receive_nothing(timeout=0.3)

            await harness.sim.send(*events[until_ringing : agent_connect + 1])
            answered = await _next_call_event(sockets["anna"])
            assert (answered["type"], answered["call_id"]) == ("call.answered", pop["call_id"])
            await harness.play(events[agent_connect + 1 :])
            ended = await _next_call_event(sockets["anna"])
            assert (ended["type"], ended["state"]) == ("call.ended", "completed")
            for other in ("boris", "pavel"):
                assert await sockets[other].receive_nothing(timeout=0.3)
        finally:
            await harness.close()
            for socket in sockets.values():
                await socket.disconnect()

    async_to_sync(scenario)()


def test_an_unanswered_ring_closes_the_pop_of_that_operator(pbx, anna) -> None:
    socket = _socket(anna)

    async def scenario() -> None:
        assert (await socket.connect())[0]
        harness = await Harness(pbx.pk).start()
        try:
            await harness.play(queue_call(caller="+14155550123", answered=False, hold=4))
            pop = await _next_call_event(socket)
            assert (pop["type"], pop["customer_id"], pop["customer_name"]) == (
                "call.ringing",
                None,
                "",
            )
            stopped = await _next_call_event(socket)
            assert (stopped["type"], stopped["call_id"]) == ("call.stopped", pop["call_id"])
        finally:
            await harness.close()
            await socket.disconnect()

    async_to_sync(scenario)()
