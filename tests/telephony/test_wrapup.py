"""One capacity model with chats: an answered call makes its operator busy (TELEPHONY_CALL_
WEIGHT in their load) until the wrap-up after it is over; the release is claimed once."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.test import override_settings
from django.utils import timezone

from accounts.models import OperatorProfile
from telephony.models import Call
from telephony.services import call_event_apply, call_wrapup_release, calls_release_due_wrapups
from tests.telephony.simulator import queue_call

pytestmark = pytest.mark.django_db


def _events_now(**kwargs):
    """The scenario's events stamped from now, as a live PBX would."""
    t0 = timezone.now().timestamp()
    return [{k: str(v) for k, v in e.items()} for e in queue_call(t0=t0, **kwargs)]


def _busy(user) -> int:
    return OperatorProfile.objects.values_list("busy_load", flat=True).get(user=user)


@override_settings(TELEPHONY_CALL_WEIGHT=100, TELEPHONY_WRAPUP_SECONDS=30)
def test_an_operator_is_busy_from_answer_through_wrap_up(
    pbx, anna, django_capture_on_commit_callbacks
) -> None:
    events = _events_now(hold=5, talk=40)
    connect = next(i for i, e in enumerate(events) if e["Event"] == "AgentConnect")
    for fields in events[:connect]:
        call_event_apply(pbx_id=pbx.pk, fields=fields)
    assert _busy(anna) == 0  # ringing does not take her off chats
    call_event_apply(pbx_id=pbx.pk, fields=events[connect])
    assert _busy(anna) == 100
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        for fields in events[connect + 1 :]:
            call_event_apply(pbx_id=pbx.pk, fields=fields)
    call = Call.objects.get()
    assert call.state == Call.State.COMPLETED and call.wrapup_seconds == 30
    assert call.wrapup_until == call.ended_at + timedelta(seconds=30)
    assert callbacks  # the countdown task was queued after commit (eager: ran, not due yet)
    assert _busy(anna) == 100

    with time_machine.travel(call.wrapup_until - timedelta(seconds=1)):
        assert calls_release_due_wrapups() == 0
        assert _busy(anna) == 100
    with time_machine.travel(call.wrapup_until + timedelta(seconds=1)):
        assert call_wrapup_release(call_id=call.pk) is True
        assert call_wrapup_release(call_id=call.pk) is False  # twice: nothing more
        assert calls_release_due_wrapups() == 0
    assert _busy(anna) == 0


@override_settings(TELEPHONY_CALL_WEIGHT=100, TELEPHONY_WRAPUP_SECONDS=30)
def test_the_end_of_one_wrap_up_does_not_free_an_operator_on_another_call(pbx, anna) -> None:
    first = _events_now(hold=1, talk=10)
    for fields in first:
        call_event_apply(pbx_id=pbx.pk, fields=fields)
    second = [
        {
            **e,
            "Uniqueid": e["Uniqueid"].replace("1700000000", "1800000000"),
            "Linkedid": "1800000000.1",
        }
        for e in _events_now(hold=1, talk=10)
    ]
    connect = next(i for i, e in enumerate(second) if e["Event"] == "AgentConnect")
    for fields in second[: connect + 1]:
        call_event_apply(pbx_id=pbx.pk, fields=fields)
    done = Call.objects.get(linkedid="1700000000.1")
    with time_machine.travel(done.wrapup_until + timedelta(seconds=1)):
        assert call_wrapup_release(call_id=done.pk) is True
    assert _busy(anna) == 100  # still talking on the second call


@override_settings(TELEPHONY_WRAPUP_SECONDS=0)
def test_an_abandoned_call_never_makes_anyone_busy(pbx, anna) -> None:
    for fields in _events_now(answered=False, hold=2):
        call_event_apply(pbx_id=pbx.pk, fields=fields)
    assert _busy(anna) == 0
    assert Call.objects.get().wrapup_until is None
