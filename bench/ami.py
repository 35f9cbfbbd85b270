"""AMI listener benchmark: events per second from a replay of N events, and screen-pop latency
(AgentCalled sent -> the operator's WebSocket has it), beside the simulator's raw socket
throughput (a bare asyncio reader counting messages) and the parser alone, in the same run.

    .venv/bin/python bench/ami.py --events 100000 --pops 200
    .venv/bin/python bench/ami.py --smoke      # seconds: proves it runs (CI)

It runs on a database of its own (`bench_ami_<pid>`, migrated, dropped at the end) and a
redis-server it starts on a free port (bench/common.py): never the suite's `test_*` databases
nor the shared Redis.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common

# The database and Redis exist before Django reads its settings.
_redis = common.private_redis()
os.environ["REDIS_URL"] = _redis.__enter__()
atexit.register(_redis.__exit__, None, None, None)
common.private_database("ami")
# The test overlay: eager Celery and the in-memory file storage the telephony harness expects.
os.environ["DJANGO_SETTINGS_MODULE"] = "smartdesk.settings_test"

import django  # noqa: E402

django.setup()

from asgiref.sync import sync_to_async  # noqa: E402
from channels.testing import WebsocketCommunicator  # noqa: E402
from django.test import Client  # noqa: E402

from telephony.ami import AmiParser  # noqa: E402
from tests.telephony.simulator import frame, queue_call  # noqa: E402


def _calls(n_events: int, start: int = 0) -> list[list[dict[str, object]]]:
    calls, total, i = [], 0, start
    while total < n_events:
        events = queue_call(
            linkedid=f"{1_700_000_000 + i}.1",
            caller=f"+7916{1_000_000 + i % 50_000:07d}",
            agent=("PJSIP/101", "PJSIP/102")[i % 2],
            t0=1_700_000_000.0 + i * 10,
            answered=i % 7 != 0,
        )
        calls.append(events)
        total += len(events)
        i += 1
    return calls


async def raw_socket_baseline(payload: bytes, count: int) -> float:
    """The simulator pushing the same bytes to a reader that only counts messages."""
    done = asyncio.Event()
    seen = 0

    async def reader_side(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal seen
        tail = b""
        while seen < count:
            data = await reader.read(65536)
            if not data:
                break
            chunk = tail + data
            seen += chunk.count(b"\r\n\r\n")
            tail = chunk[-3:]
        done.set()

    server = await asyncio.start_server(reader_side, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.perf_counter()
    writer.write(payload)
    await writer.drain()
    await done.wait()
    elapsed = time.perf_counter() - started
    writer.close()
    server.close()
    return count / elapsed


def parser_only(payload: bytes, count: int) -> float:
    parser = AmiParser(banner="x")
    started = time.perf_counter()
    n = 0
    for i in range(0, len(payload), 65536):
        n += len(parser.feed(payload[i : i + 65536]))
    assert n == count
    return count / (time.perf_counter() - started)


async def listener_run(pbx_id: int, calls: list[list[dict[str, object]]]) -> tuple[float, int]:
    from tests.telephony.conftest import Harness

    harness = await Harness(pbx_id).start()
    try:
        events = [e for call in calls for e in call]
        payload = b"".join(frame(e) for e in events)
        started = time.perf_counter()
        await harness.sim.send_raw(payload)
        await harness.wait_applied(len(events), timeout=3600)
        elapsed = time.perf_counter() - started
        return len(events) / elapsed, harness.outcomes.count("applied")
    finally:
        await harness.close()


async def pop_latency(pbx_id: int, user, pops: int) -> list[float]:
    from tests.telephony.conftest import Harness

    client = await sync_to_async(Client)()
    await sync_to_async(client.force_login)(user)
    socket = WebsocketCommunicator(
        __import__("smartdesk.asgi", fromlist=["application"]).application,
        "/ws/operator/",
        headers=[
            (b"origin", b"http://127.0.0.1"),
            (b"host", b"127.0.0.1"),
            (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
        ],
    )
    assert (await socket.connect())[0]
    harness = await Harness(pbx_id).start()
    latencies = []
    try:
        for n in range(pops):
            call = queue_call(
                linkedid=f"{1_800_000_000 + n}.1", agent="PJSIP/101", t0=1.8e9 + n * 10
            )
            called = next(i for i, e in enumerate(call) if e["Event"] == "AgentCalled")
            await harness.play(call[:called])
            started = time.perf_counter()
            await harness.sim.send(call[called])
            while True:
                message = await socket.receive_json_from(timeout=10)
                if message.get("type") == "call.ringing":
                    break
            latencies.append((time.perf_counter() - started) * 1000)
            await harness.play(call[called + 1 :])
            while not await socket.receive_nothing(timeout=0.01):
                await socket.receive_json_from()
    finally:
        await harness.close()
        await socket.disconnect()
    return latencies


def main() -> None:
    parser = common.parser(__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--pops", type=int, default=200)
    args = parser.parse_args()
    if args.smoke:
        args.events, args.pops = 300, 5
    common.smoke_note(args.smoke)

    calls = _calls(args.events)
    events = [e for call in calls for e in call]
    payload = b"".join(frame(e) for e in events)
    print(f"data: {len(events)} AMI events in {len(calls)} calls, {len(payload) / 1e6:.1f} MB")
    raw = asyncio.run(raw_socket_baseline(payload, len(events)))
    parsed = parser_only(payload, len(events))
    print(f"baseline  simulator raw socket:   {raw:12,.0f} events/s")
    print(f"          parser alone:           {parsed:12,.0f} events/s")

    from accounts.models import OperatorProfile
    from telephony.models import Pbx
    from tests import factories

    anna = factories.make_user(username="anna", teams=[factories.make_team("Support")])
    boris = factories.make_user(username="boris", teams=[factories.make_team("Support")])
    OperatorProfile.objects.filter(user=anna).update(phone_extension="PJSIP/101")
    OperatorProfile.objects.filter(user=boris).update(phone_extension="PJSIP/102")
    # One caller in fifty is a known customer (the callers cycle through 50,000 numbers).
    for i in range(0, min(50_000, len(calls) + 50), 50):
        factories.make_customer(f"C{i}", phone=f"+7916{1_000_000 + i:07d}")
    pbx = Pbx.objects.create(name="bench", username="smartdesk", secret="s3cret")  # noqa: S106

    from asgiref.sync import async_to_sync

    rate, applied = async_to_sync(listener_run)(pbx.pk, calls)
    print(
        f"listener  (parse + PostgreSQL + realtime): {rate:12,.0f} events/s "
        f"({applied} applied) = {rate / raw:.4f} x raw socket"
    )
    latencies = async_to_sync(pop_latency)(pbx.pk, anna, args.pops)
    q = statistics.quantiles(latencies, n=100)
    print(
        f"screen-pop AgentCalled -> WebSocket ({len(latencies)} pops, Redis layer): "
        f"p50 {q[49]:.1f} ms, p99 {q[98]:.1f} ms, max {max(latencies):.1f} ms"
    )


if __name__ == "__main__":
    main()
