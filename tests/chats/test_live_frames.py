"""A client frame the socket cannot accept is answered with an error frame, and the socket
stays open: deep nesting, non-JSON, NUL, oversize and binary frames never crash the consumer."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync

from smartdesk.core.consumers import MAX_FRAME_CHARS
from tests.live import operator_socket

pytestmark = pytest.mark.django_db(transaction=True)

BAD_FRAMES = {
    "deep": "[" * 50_000 + "]" * 50_000,
    "not json": "{hello",
    "nul": '{"type": "subscribe", "conversation_id": "1\\u0000"}',
    "oversize": '{"type": "ping", "pad": "' + "x" * MAX_FRAME_CHARS + '"}',
    "nan": '{"type": "ping", "n": NaN}',
}


@pytest.mark.parametrize("name", sorted(BAD_FRAMES))
def test_a_bad_frame_gets_an_error_and_the_socket_lives_on(operator, name) -> None:
    socket = operator_socket(operator)

    async def scenario() -> None:
        assert (await socket.connect())[0]
        await socket.send_to(text_data=BAD_FRAMES[name])
        answer = await socket.receive_json_from(timeout=5)
        assert answer["type"] == "error", answer
        await socket.send_json_to({"type": "ping"})
        assert (await socket.receive_json_from(timeout=5))["type"] == "pong"
        await socket.disconnect()

    async_to_sync(scenario)()


def test_a_binary_frame_gets_an_error_and_the_socket_lives_on(operator) -> None:
    socket = operator_socket(operator)

    async def scenario() -> None:
        assert (await socket.connect())[0]
        await socket.send_to(bytes_data=b"\x00\x01")
        assert (await socket.receive_json_from(timeout=5))["type"] == "error"
        await socket.send_json_to({"type": "ping"})
        assert (await socket.receive_json_from(timeout=5))["type"] == "pong"
        await socket.disconnect()

    async_to_sync(scenario)()
