"""Roll-ups from real conversations made through the services: hours, midnight, time zones,
snoozes, reopens, people who left, calls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from accounts.models import OperatorProfile, Role
from accounts.services import role_archive
from analytics import rollups, selectors
from analytics.heatmap import heatmap
from analytics.models import HourlyCall, HourlyChat
from chats.services.conversations import (
    conversation_close,
    conversation_reopen,
    conversation_snooze,
    conversation_unsnooze,
)
from chats.services.messages import message_reply
from tests import factories
from tests.analytics.conftest import clock

pytestmark = pytest.mark.django_db

MON = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday


def utc(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, second, tzinfo=UTC)


def everything() -> selectors.Filters:
    return selectors.Filters(start=utc(1, 0), end=utc(20, 0))


def test_figures_land_in_the_hour_they_belong_to_across_midnight(operator, support_inbox) -> None:
    # given: arrives 23:59:30, answered 00:00:40 (70 s), closed 00:10
    with clock(utc(2, 23, 59, 30)):
        conversation = factories.make_conversation(inbox=support_inbox, assignee=operator)
    with clock(utc(3, 0, 0, 40)):
        message_reply(conversation=conversation, author=operator, body="Checking")
    with clock(utc(3, 0, 10)):
        conversation_close(conversation=conversation, actor=operator)
    # when
    with clock(utc(3, 1, 0)):
        rollups.rollup_rebuild()
    # then: arrival figures on Monday 23:00 UTC, the close on Tuesday 00:00 UTC
    arrival = HourlyChat.objects.get(arrived=1)
    assert arrival.hour == utc(2, 23)
    assert arrival.operator_id == operator.pk
    assert arrival.first_response_sum == pytest.approx(70)
    assert (arrival.sl_counted, arrival.sl_met) == (1, 0)  # 70 s > 60 s
    close = HourlyChat.objects.get(closed=1)
    assert close.hour == utc(3, 0)
    assert close.resolution_sum == pytest.approx(630)
    # In UTC the two belong to two days; in Moscow (UTC+3) both to Tuesday.
    by_day_utc = selectors.chat_totals(everything(), group_by="day")
    assert sorted(str(d) for d in by_day_utc) == ["2026-03-02", "2026-03-03"]
    moscow = selectors.Filters(start=utc(1, 0), end=utc(20, 0), tz=ZoneInfo("Europe/Moscow"))
    by_day_msk = selectors.chat_totals(moscow, group_by="day")
    assert list(map(str, by_day_msk)) == ["2026-03-03"]
    assert by_day_msk[next(iter(by_day_msk))].kpis()["volume"] == 1


def test_snoozed_time_is_not_waiting_and_a_reopen_counts(operator, support_inbox) -> None:
    with clock(utc(4, 10, 0)):
        conversation = factories.make_conversation(inbox=support_inbox, assignee=operator)
    with clock(utc(4, 10, 0, 20)):
        conversation_snooze(conversation=conversation, actor=operator, until=utc(4, 11, 0))
    with clock(utc(4, 10, 30)):
        conversation_unsnooze(conversation=conversation, actor=operator)
    with clock(utc(4, 10, 30, 25)):
        message_reply(conversation=conversation, author=operator, body="Here")
    with clock(utc(4, 10, 40)):
        conversation_close(conversation=conversation, actor=operator)
    with clock(utc(4, 12, 0)):
        conversation_reopen(conversation=conversation, actor=operator)
    with clock(utc(4, 12, 5)):
        conversation_close(conversation=conversation, actor=operator)
    with clock(utc(4, 13, 0)):
        rollups.rollup_rebuild()
    k = selectors.chat_totals(everything()).get(None).kpis()
    assert k["first_response_avg"] == pytest.approx(45)  # 20 s + 25 s, snooze not counted
    assert k["service_level"] == 1.0
    assert k["reopen_rate"] == 1.0
    # active 10:00:00-10:00:20, 10:30-10:40, 12:00-12:05
    assert k["resolution_avg"] == pytest.approx(20 + 600 + 300)


def test_deactivated_operators_and_archived_roles_stay_in_past_figures(
    operator, teammate, support_inbox, admin_user
) -> None:
    with clock(utc(5, 9)):
        conversation = factories.make_conversation(inbox=support_inbox, assignee=operator)
        message_reply(conversation=conversation, author=operator, body="Hi")
        conversation_close(conversation=conversation, actor=operator)
    # the operator leaves; their role is archived
    role = factories.make_role(name="Night shift", slug="night", scope=Role.Scope.TEAMS)
    OperatorProfile.objects.filter(user=operator).update(role=role)
    role_archive(role=role, actor=None)
    type(operator).objects.filter(pk=operator.pk).update(is_active=False)
    with clock(utc(5, 12)):
        rollups.rollup_rebuild()
    rows = selectors.operator_table(everything())
    mine = [r for r in rows if r.operator_id == operator.pk]
    assert mine and mine[0].handled == 1 and mine[0].active is False
    assert selectors.chat_totals(everything()).get(None).kpis()["volume"] == 1


def test_the_incremental_run_picks_up_changes_since_the_watermark(operator, support_inbox) -> None:
    with clock(utc(6, 9)):
        rollups.rollup_incremental()  # first run: a rebuild of nothing
    with clock(utc(6, 9, 30)):
        conversation = factories.make_conversation(inbox=support_inbox)
    with clock(utc(6, 9, 31)):
        rollups.rollup_incremental()
    assert selectors.chat_totals(everything()).get(None).kpis()["volume"] == 1
    assert selectors.chat_totals(everything()).get(None).sl_counted == 0  # 60 s not passed
    # nobody answers: two minutes later it counts against the service level
    with clock(utc(6, 9, 33)):
        rollups.rollup_incremental()
    totals = selectors.chat_totals(everything()).get(None)
    assert (totals.sl_counted, totals.sl_met) == (1, 0)
    with clock(utc(6, 9, 40)):
        message_reply(conversation=conversation, author=operator, body="Sorry")
        conversation_close(conversation=conversation, actor=operator)
    with clock(utc(6, 9, 41)):
        rollups.rollup_incremental()
    totals = selectors.chat_totals(everything()).get(None)
    assert (totals.arrived, totals.answered, totals.closed) == (1, 1, 1)
    assert totals.first_response_sum == pytest.approx(600)
    # and it equals a rebuild from scratch
    before = list(HourlyChat.objects.order_by("hour", "operator_id").values())
    with clock(utc(6, 9, 41)):
        rollups.rollup_rebuild()
    after = list(HourlyChat.objects.order_by("hour", "operator_id").values())
    strip = [{k: v for k, v in r.items() if k != "id"} for r in before]
    assert strip == [{k: v for k, v in r.items() if k != "id"} for r in after]


def test_the_heatmap_counts_every_hour_of_the_range_in_the_viewers_zone() -> None:
    # The week of the autumn DST change in Berlin: Sunday 02:00 local happens twice.
    tz = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 10, 19, tzinfo=tz).astimezone(UTC)
    end = datetime(2026, 10, 26, tzinfo=tz).astimezone(UTC)
    grid = heatmap(selectors.Filters(start=start, end=end, tz=tz), metric="arrivals")
    assert grid[6][2].samples == 2  # Sunday 02:00
    assert grid[6][3].samples == 1
    assert sum(c.samples for row in grid for c in row) == 7 * 24 + 1


def test_concurrency_heatmap_averages_over_the_weeks_with_p90(operator, support_inbox) -> None:
    # two Mondays: one with a chat open 10:00-11:00, one quiet
    with clock(utc(2, 10)):
        conversation = factories.make_conversation(inbox=support_inbox, assignee=operator)
    with clock(utc(2, 11)):
        conversation_close(conversation=conversation, actor=operator)
    with clock(utc(10, 0)):
        rollups.rollup_rebuild()
    grid = heatmap(selectors.Filters(start=utc(2, 0), end=utc(16, 0)), metric="concurrent")
    cell = grid[0][10]
    assert cell.samples == 2
    assert cell.avg == pytest.approx(0.5)
    assert cell.p90 == pytest.approx(1.0)
    assert grid[0][11].avg == 0


# --- calls ---------------------------------------------------------------------------------------


def make_call(**fields):
    from telephony.models import Call, Pbx

    pbx, _ = Pbx.objects.get_or_create(name="pbx", defaults={"username": "u", "secret": "s"})
    n = Call.objects.count()
    return Call.objects.create(pbx=pbx, linkedid=f"l{n}", direction="inbound", **fields)


def test_call_figures_roll_up_from_telephony_calls(operator) -> None:
    t = utc(9, 14)
    make_call(
        state="completed",
        queue="sales",
        operator=operator,
        started_at=t,
        queued_at=t + timedelta(seconds=5),
        answered_at=t + timedelta(seconds=15),
        ended_at=t + timedelta(seconds=315),
        talk_seconds=300,
        wrapup_seconds=60,
        hold_seconds=10,  # the queue wait, not in-call hold
    )
    make_call(state="abandoned", queue="sales", started_at=t, ended_at=t + timedelta(seconds=2))
    make_call(state="abandoned", queue="sales", started_at=t, ended_at=t + timedelta(seconds=90))
    make_call(state="queued", queue="sales", started_at=t)  # live: not yet a figure
    with clock(utc(9, 16)):
        rollups.rollup_rebuild()
    k = selectors.call_totals(everything()).get(None).kpis(sl_variant="against")
    assert (k["offered"], k["answered"], k["abandoned"], k["short_abandoned"]) == (2, 1, 1, 1)
    assert k["asa"] == pytest.approx(10)  # from entering the queue
    assert k["handle_avg"] == pytest.approx(360)  # talk + wrap-up
    assert k["lost_rate"] == pytest.approx(0.5)
    assert k["service_level"] == pytest.approx(0.5)
    assert set(HourlyCall.objects.values_list("hour", flat=True)) == {utc(9, 14)}


def test_presence_is_sampled_once_a_minute_for_occupancy(operator, support_inbox) -> None:
    from accounts.services import presence_set

    with clock(utc(9, 9, 0, 10)):
        presence_set(user=operator, presence="online")
        factories.make_conversation(inbox=support_inbox, assignee=operator)
        assert rollups.presence_sample() == 1
        assert rollups.presence_sample() == 0  # the same minute: counted once
    with clock(utc(9, 9, 1, 10)):
        assert rollups.presence_sample() == 1
    row = next(r for r in selectors.operator_table(everything()) if r.operator_id == operator.pk)
    assert row.online_hours == pytest.approx(120 / 3600)
    capacity = OperatorProfile.objects.get(user=operator).capacity
    assert row.occupancy == pytest.approx(1 / capacity)


def test_a_call_counts_once_in_occupancy(operator, support_inbox) -> None:
    from accounts.services import operator_busy_set, presence_set

    with clock(utc(9, 9, 0, 10)):
        presence_set(user=operator, presence="online")
        factories.make_conversation(inbox=support_inbox, assignee=operator)
        operator_busy_set(user_id=operator.pk, weight=2)  # a call on top of one chat
        assert rollups.presence_sample() == 1
    row = next(r for r in selectors.operator_table(everything()) if r.operator_id == operator.pk)
    capacity = OperatorProfile.objects.get(user=operator).capacity
    assert row.occupancy == pytest.approx(3 / capacity)  # load 3 (1 chat + the call), not 5


def test_the_dashboard_figures_read_roll_ups_in_a_fixed_number_of_queries(
    operator, support_inbox, django_assert_num_queries
) -> None:
    with clock(utc(9, 9)):
        for _ in range(3):
            factories.make_conversation(inbox=support_inbox, assignee=operator)
        rollups.rollup_rebuild()
    # this period and the previous one: one aggregate each for conversations and for calls
    with django_assert_num_queries(4):
        cards = selectors.kpi_cards(everything())
    # one grouped query
    with django_assert_num_queries(1):
        by_team = selectors.chat_totals(everything(), group_by="team")
    assert next(c for c in cards if c.key == "volume").value == 3
    assert [c for c in cards if c.key.startswith("calls_")]
    assert by_team[support_inbox.default_team_id].arrived == 3
