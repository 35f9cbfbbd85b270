"""The listener against the AMI simulator: each scenario ends in the stored call's state, hold
time and talk time; replays, reconnects and garbage change nothing they should not."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings

from accounts.models import OperatorProfile
from telephony.listener import PbxListener
from telephony.models import Call, CallEvent, CallOffer
from telephony.services import call_event_apply
from tests import factories
from tests.telephony.conftest import Harness
from tests.telephony.simulator import direct_call, queue_call

pytestmark = pytest.mark.django_db(transaction=True)


def _run(pbx, scenario, **options):
    async def main() -> Harness:
        harness = await Harness(pbx.pk, **options).start()
        try:
            await scenario(harness)
        finally:
            await harness.close()
        return harness

    return async_to_sync(main)()


def _at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def test_a_queue_call_answered_and_completed(pbx, anna) -> None:
    customer = factories.make_customer("Svetlana", phone="+79161234567")
    events = queue_call(hold=12, talk=95)

    async def scenario(h: Harness) -> None:
        await h.play(events)

    harness = _run(pbx, scenario)
    call = Call.objects.get()
    assert call.state == Call.State.COMPLETED
    assert call.direction == Call.Direction.INBOUND
    assert (call.caller, call.caller_raw, call.did) == (
        "+79161234567",
        "89161234567",
        "+74951234567",
    )
    assert call.customer == customer
    assert (call.queue, call.operator) == ("support", anna)
    assert (call.hold_seconds, call.talk_seconds) == (12, 95)
    assert call.started_at == _at(1_700_000_000)
    assert call.answered_at == _at(1_700_000_014)
    assert call.ended_at == _at(1_700_000_109)
    assert call.wrapup_seconds == settings.TELEPHONY_WRAPUP_SECONDS
    assert CallEvent.objects.filter(call=call).count() == len(events)
    assert list(CallOffer.objects.values_list("operator_id", "outcome")) == [(anna.pk, "answered")]
    assert harness.outcomes == ["applied"] * len(events)


def test_a_caller_abandoning_in_the_queue(pbx, anna) -> None:
    async def scenario(h: Harness) -> None:
        await h.play(queue_call(answered=False, hold=3))

    _run(pbx, scenario)
    call = Call.objects.get()
    assert call.state == Call.State.ABANDONED
    assert call.operator is None and call.answered_at is None
    assert (call.hold_seconds, call.talk_seconds) == (3, None)
    assert call.ended_at == _at(1_700_000_005)
    assert CallOffer.objects.get().outcome == CallOffer.Outcome.CANCELLED


def test_a_direct_call_to_an_operators_extension(pbx, anna, boris) -> None:
    async def scenario(h: Harness) -> None:
        await h.play(direct_call(operator="PJSIP/102", ring=4, talk=60))

    _run(pbx, scenario)
    call = Call.objects.get()
    assert (call.state, call.queue, call.operator) == (Call.State.COMPLETED, "", boris)
    # no queue: the hold time is the ringing before the answer
    assert (call.hold_seconds, call.talk_seconds) == (4, 60)
    assert list(CallOffer.objects.values_list("operator_id", "outcome")) == [(boris.pk, "answered")]


def test_an_unknown_caller_is_recorded_without_a_customer(pbx, anna) -> None:
    async def scenario(h: Harness) -> None:
        await h.play(queue_call(caller="+14155550123", hold=5, talk=20))

    _run(pbx, scenario)
    call = Call.objects.get()
    assert (call.caller, call.customer) == ("+14155550123", None)
    assert (call.state, call.hold_seconds, call.talk_seconds) == ("completed", 5, 20)


def test_a_connection_dropped_mid_call_is_restored_without_a_duplicate(pbx, anna) -> None:
    events = queue_call(hold=12, talk=95)
    cut = 9  # after AgentConnect

    async def scenario(h: Harness) -> None:
        await h.play(events[:cut])
        await h.sim.drop()
        await h.sim.wait_logins(2)  # the listener came back by itself
        # the PBX side resends what it was not sure went out, then the rest of the call
        await h.play(events[cut - 2 :])

    harness = _run(pbx, scenario)
    call = Call.objects.get()
    assert (call.state, call.hold_seconds, call.talk_seconds) == ("completed", 12, 95)
    assert CallEvent.objects.count() == len(events)
    assert harness.outcomes.count("duplicate") == 2
    assert harness.listener.stats.connects == 2


def test_garbage_lines_are_logged_and_skipped_and_the_call_still_completes(pbx, anna) -> None:
    events = queue_call(hold=7, talk=30)

    async def scenario(h: Harness) -> None:
        await h.play(events[:3])
        await h.sim.send_raw(
            b"%%% line noise %%%\r\n\x00\xff\r\nEvent: PeerStatus\r\nno colon here\r\n"
        )
        # ... and the message the noise sat in ends with the next blank line
        await h.sim.send_raw(b"Peer: PJSIP/101\r\n\r\n")
        await h.wait_applied(4)
        await h.play(events[3:])
        h.garbage = h.listener._connection.parser.garbage

    harness = _run(pbx, scenario)
    call = Call.objects.get()
    assert (call.state, call.hold_seconds, call.talk_seconds) == ("completed", 7, 30)
    assert harness.garbage == 3


def test_replaying_the_same_events_changes_nothing(pbx, anna) -> None:
    events = [{k: str(v) for k, v in e.items()} for e in queue_call()]
    for fields in events:
        call_event_apply(pbx_id=pbx.pk, fields=fields)
    before = list(Call.objects.values())
    profile_before = OperatorProfile.objects.values("load", "busy_load").get(user=anna)

    outcomes = [call_event_apply(pbx_id=pbx.pk, fields=fields) for fields in events]

    assert set(outcomes) == {"duplicate"}
    assert list(Call.objects.values()) == before
    assert CallEvent.objects.count() == len(events)
    assert OperatorProfile.objects.values("load", "busy_load").get(user=anna) == profile_before


def test_events_outside_calls_are_not_stored(pbx) -> None:
    assert call_event_apply(pbx_id=pbx.pk, fields={"Event": "FullyBooted"}) == "ignored"
    assert (
        call_event_apply(pbx_id=pbx.pk, fields={"Event": "PeerStatus", "Peer": "PJSIP/1"})
        == "ignored"
    )
    assert not Call.objects.exists()


def test_a_wrong_secret_is_retried_with_backoff_and_never_logs_in(pbx) -> None:
    pbx.secret = "wrong"
    pbx.save()

    async def main() -> None:
        harness = Harness(pbx.pk)
        port = await harness.sim.start()
        await sync_to_async(type(pbx).objects.filter(pk=pbx.pk).update)(port=port)
        stop = asyncio.Event()
        listener = PbxListener(
            pbx_id=pbx.pk,
            stop=stop,
            redis_url="",
            backoff_min=0.01,
            backoff_max=0.02,
            ping_interval=0,
        )
        task = asyncio.create_task(listener.run())
        await harness.sim.wait_actions("Login", 3)
        stop.set()
        await asyncio.wait_for(task, 5)
        await harness.sim.stop()
        assert harness.sim.logins == 0
        assert listener.stats.connects == 0

    async_to_sync(main)()


def test_only_one_listener_per_pbx_holds_the_lock(pbx, anna) -> None:
    async def main() -> None:
        first = await Harness(pbx.pk).start()
        stop = asyncio.Event()
        second = PbxListener(
            pbx_id=pbx.pk,
            stop=stop,
            redis_url=settings.REDIS_URL,
            backoff_min=0.01,
            ping_interval=0,
            lock_seconds=0.3,
        )
        task = asyncio.create_task(second.run())
        # the second one waits on the lock: it never logs in while the first holds it
        await first.play(queue_call(hold=2, talk=3))
        assert first.sim.logins == 1 and not second.connected.is_set()
        # graceful shutdown of the first releases the lock: the second takes over
        first.stop.set()
        await asyncio.wait_for(first.task, 5)
        port = first.sim.port
        await first.sim.stop()
        replacement = Harness(pbx.pk)
        replacement.sim.port = port
        server = await asyncio.start_server(replacement.sim._client, "127.0.0.1", port)
        replacement.sim.server = server
        await replacement.sim.wait_logins(1)
        assert second.connected.is_set() or await asyncio.wait_for(second.connected.wait(), 5)
        stop.set()
        await asyncio.wait_for(task, 5)
        await replacement.sim.stop()
        assert any(a.get("Action") == "Logoff" for a in replacement.sim.actions)

    async_to_sync(main)()
