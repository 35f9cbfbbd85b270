"""A click-to-call the PBX cannot place: Asterisk says so in an `OriginateResponse` event with
`Response: Failure`, naming our Originate by its ActionID. The listener marks the call failed
and the operator who clicked hears it live, on their socket only."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.test import Client
from django.utils import timezone

from smartdesk.core.models import LiveEvent
from telephony.models import Call, CallEvent
from telephony.services import call_event_apply
from tests import factories
from tests.telephony.conftest import Harness
from tests.telephony.simulator import originate_failure, queue_call
from tests.telephony.test_screen_pop import _next_call_event, _socket

pytestmark = pytest.mark.django_db(transaction=True)


def _dial(user, customer_id: int) -> dict:
    client = Client()
    client.force_login(user)
    response = client.post("/telephony/dial/", {"customer": customer_id})
    assert response.status_code == 202, response.content
    return response.json()


@pytest.mark.parametrize(("reason", "said"), [(5, "busy"), (3, "no_answer"), (0, "unreachable")])
def test_a_failed_click_to_call_is_failed_and_only_its_operator_hears_it(
    pbx, anna, boris, admin_user, support_inbox, reason, said
) -> None:
    customer = factories.make_customer("Svetlana", phone="+79161234567")
    factories.make_conversation(inbox=support_inbox, customer=customer, assignee=anna)
    sockets = {"anna": _socket(anna), "boris": _socket(boris), "pavel": _socket(admin_user)}

    async def scenario() -> dict:
        for socket in sockets.values():
            assert (await socket.connect())[0]
        harness = await Harness(pbx.pk).start()
        try:
            # given: Anna clicks "Call the customer"; the Originate goes to the PBX
            dialled = await sync_to_async(_dial)(anna, customer.pk)
            await harness.sim.wait_actions("Originate", 1)
            [originate] = [a for a in harness.sim.actions if a["Action"] == "Originate"]
            # when: her phone fails, and the PBX says so to every AMI session
            await harness.play(
                originate_failure(
                    action_id=originate["ActionID"],
                    channel_id=originate["ChannelId"],
                    reason=reason,
                )
            )
            # then: her socket hears it, nobody else's does
            failed = await _next_call_event(sockets["anna"])
            for other in ("boris", "pavel"):
                assert await sockets[other].receive_nothing(timeout=0.3)
            return {"dialled": dialled, "failed": failed, "outcomes": harness.outcomes}
        finally:
            await harness.close()
            for socket in sockets.values():
                await socket.disconnect()

    result = async_to_sync(scenario)()
    call = Call.objects.get()
    assert result["dialled"]["call_id"] == call.pk
    assert call.state == Call.State.FAILED
    assert call.ended_at is not None and call.answered_at is None
    event = result["failed"]
    assert {k: event[k] for k in ("type", "call_id", "state", "reason")} == {
        "type": "call.failed",
        "call_id": call.pk,
        "state": "failed",
        "reason": said,
    }
    assert result["outcomes"][-1] == "applied"
    assert CallEvent.objects.filter(call=call, name="OriginateResponse").count() == 1


def _originated(pbx, user, linkedid: str = "sd-1") -> Call:
    """A click-to-call as `call_originate` leaves it, before the PBX reports anything."""
    return Call.objects.create(
        pbx=pbx,
        linkedid=linkedid,
        uniqueid=linkedid,
        direction=Call.Direction.OUTBOUND,
        operator=user,
        originated_by=user,
        started_at=timezone.now(),
    )


def _response(action_id: str, **changes: str) -> dict[str, str]:
    [event] = originate_failure(action_id=action_id, channel_id="", reason=0)
    return {k: str(v) for k, v in event.items()} | changes


def test_an_originate_response_naming_a_call_we_did_not_originate_is_ignored(pbx, anna) -> None:
    for fields in queue_call()[:3]:
        call_event_apply(pbx_id=pbx.pk, fields={k: str(v) for k, v in fields.items()})
    inbound = Call.objects.get()

    assert call_event_apply(pbx_id=pbx.pk, fields=_response(inbound.linkedid)) == "ignored"
    assert call_event_apply(pbx_id=pbx.pk, fields=_response("")) == "ignored"
    inbound.refresh_from_db()
    assert inbound.state == Call.State.QUEUED
    assert not CallEvent.objects.filter(name="OriginateResponse").exists()


def test_a_replayed_failure_is_stored_and_applied_once(pbx, anna) -> None:
    call = _originated(pbx, anna)

    assert call_event_apply(pbx_id=pbx.pk, fields=_response(call.linkedid)) == "applied"
    assert call_event_apply(pbx_id=pbx.pk, fields=_response(call.linkedid)) == "duplicate"
    call.refresh_from_db()
    assert call.state == Call.State.FAILED
    assert CallEvent.objects.filter(call=call).count() == 1


def test_a_successful_originate_response_leaves_the_call_to_its_channel_events(pbx, anna) -> None:
    call = _originated(pbx, anna)
    success = _response(call.linkedid, Response="Success", Reason="4", Uniqueid=call.linkedid)

    assert call_event_apply(pbx_id=pbx.pk, fields=success) == "applied"
    call.refresh_from_db()
    assert call.state == Call.State.RINGING


def test_an_originate_the_pbx_never_got_is_failed_too(pbx, anna, support_inbox) -> None:
    # the PBX's AMI port is closed (the fixture's port 1): the task cannot send the Originate
    customer = factories.make_customer("Svetlana", phone="+79161234567")
    factories.make_conversation(inbox=support_inbox, customer=customer, assignee=anna)

    dialled = _dial(anna, customer.pk)

    call = Call.objects.get(pk=dialled["call_id"])
    assert (call.state, call.answered_at) == (Call.State.FAILED, None)
    payload, user_id = (
        LiveEvent.objects.filter(type="call.failed").values_list("payload", "user_id").get()
    )
    assert user_id == anna.pk
    assert (payload["call_id"], payload["state"], payload["reason"]) == (call.pk, "failed", "pbx")
