"""Occupancy counts only time online: an operator whose presence still reads "online" but
whose socket went silent (browser closed, the away sweep not run yet, or a demo seed that
marked the floor online) is offline for the statistics; an operator really online is
counted minute by minute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings

from accounts.models import OperatorProfile
from accounts.services import presence_heartbeat, presence_set
from analytics import rollups, selectors
from analytics.models import HourlyPresence
from tests import factories
from tests.analytics.conftest import clock

pytestmark = pytest.mark.django_db


def utc(hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 3, 9, hour, minute, second, tzinfo=UTC)


def everything() -> selectors.Filters:
    return selectors.Filters(start=utc(0), end=utc(23))


def test_an_operator_whose_socket_went_silent_is_not_sampled_as_online(
    operator, support_inbox
) -> None:
    # given: online at 9:00 holding one conversation, then the browser is closed (no heartbeat)
    with clock(utc(9, 0, 10)):
        presence_set(user=operator, presence="online")
        factories.make_conversation(inbox=support_inbox, assignee=operator)
    silent = utc(9, 0, 10) + timedelta(seconds=settings.PRESENCE_AWAY_AFTER_SECONDS + 30)
    # when: the minute sampler runs before the away sweep did
    with clock(silent):
        assert OperatorProfile.objects.get(user=operator).presence == "online"
        rollups.presence_sample()
    # then: no online time, no occupancy for those minutes
    assert not HourlyPresence.objects.filter(operator_id=operator.pk).exists()
    rows = [r for r in selectors.operator_table(everything()) if r.operator_id == operator.pk]
    assert all(r.occupancy is None and r.online_hours == 0 for r in rows)


def test_an_operator_who_never_went_online_has_no_occupancy(operator, support_inbox) -> None:
    with clock(utc(9, 0, 10)):
        factories.make_conversation(inbox=support_inbox, assignee=operator)
        assert rollups.presence_sample() == 0
    rows = [r for r in selectors.operator_table(everything()) if r.operator_id == operator.pk]
    assert all(r.occupancy is None for r in rows)


def test_an_operator_whose_socket_is_alive_is_counted_each_minute(operator, support_inbox) -> None:
    with clock(utc(9, 0, 10)):
        presence_set(user=operator, presence="online")
        factories.make_conversation(inbox=support_inbox, assignee=operator)
        assert rollups.presence_sample() == 1
    # the socket's heartbeats keep the operator online well past the away threshold
    moment = utc(9, 0, 10)
    for _ in range(4):
        moment += timedelta(seconds=60)
        with clock(moment):
            presence_heartbeat(user_id=operator.pk)
            assert rollups.presence_sample() == 1
    row = next(r for r in selectors.operator_table(everything()) if r.operator_id == operator.pk)
    assert row.online_hours == pytest.approx(5 * 60 / 3600)
    capacity = OperatorProfile.objects.get(user=operator).capacity
    assert row.occupancy == pytest.approx(1 / capacity)
