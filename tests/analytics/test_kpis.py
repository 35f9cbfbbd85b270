"""KPI definitions against hand-computed figures (docs/kpis.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import override_settings

from analytics.kpis import (
    CallRecord,
    CallTotals,
    ChatTotals,
    Event,
    active_seconds_by_hour,
    agents_needed,
    call_figures,
    conversation_fact,
    erlang_c,
    erlang_service_level,
)
from analytics.selectors import Filters, local_day_bounds

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_first_response_is_the_wait_until_the_first_reply() -> None:
    fact = conversation_fact(
        created_at=T0,
        first_response_at=at(45),
        closed_at=None,
        events=[],
        now=at(100),
        sl_seconds=60,
    )
    assert fact.first_response_seconds == 45
    assert fact.sl_counted and fact.sl_met


def test_snoozed_time_does_not_count_as_waiting() -> None:
    # given: waits 30 s, snoozed 10 min, woken, answered 40 s later
    events = [Event("snoozed", at(30), {"until": None}), Event("woke", at(630))]
    # when
    fact = conversation_fact(
        created_at=T0,
        first_response_at=at(670),
        closed_at=None,
        events=events,
        now=at(700),
        sl_seconds=60,
    )
    # then: 30 + 40 s, within 60 s
    assert fact.first_response_seconds == pytest.approx(70)
    assert not fact.sl_met


def test_a_due_snooze_ends_at_its_time_even_before_the_sweep_writes_woke() -> None:
    # snoozed at 10 s until 110 s; the sweep only wakes it at 500 s; answered at 130 s
    events = [
        Event("snoozed", at(10), {"until": at(110).isoformat()}),
        Event("woke", at(500)),
    ]
    fact = conversation_fact(
        created_at=T0,
        first_response_at=at(130),
        closed_at=None,
        events=events,
        now=at(600),
        sl_seconds=60,
    )
    assert fact.first_response_seconds == pytest.approx(30)  # 10 s + 20 s
    assert fact.sl_met


def test_service_level_counts_an_unanswered_wait_only_past_the_threshold() -> None:
    closed_quickly = conversation_fact(
        created_at=T0,
        first_response_at=None,
        closed_at=at(20),
        events=[Event("closed", at(20))],
        now=at(1000),
        sl_seconds=60,
    )
    still_waiting = conversation_fact(
        created_at=T0,
        first_response_at=None,
        closed_at=None,
        events=[],
        now=at(61),
        sl_seconds=60,
    )
    not_yet = conversation_fact(
        created_at=T0,
        first_response_at=None,
        closed_at=None,
        events=[],
        now=at(59),
        sl_seconds=60,
    )
    assert not closed_quickly.sl_counted
    assert still_waiting.sl_counted and not still_waiting.sl_met
    assert not not_yet.sl_counted


def test_a_reopened_conversation_resolves_at_its_final_close_without_the_closed_gap() -> None:
    events = [
        Event("closed", at(300)),
        Event("reopened", at(3600)),
        Event("snoozed", at(3700), {"until": at(4700).isoformat()}),
        Event("closed", at(5000)),
    ]
    fact = conversation_fact(
        created_at=T0,
        first_response_at=at(100),
        closed_at=at(5000),
        events=events,
        now=at(9000),
        sl_seconds=60,
    )
    # active: 0-300, 3600-3700, 4700-5000 = 300 + 100 + 300
    assert fact.resolution_seconds == pytest.approx(700)
    assert fact.reopen_count == 1
    assert [(s - T0).total_seconds() for s, _e in fact.active_spans] == [0, 3600, 4700]


def test_concurrency_is_split_across_hours_and_midnight() -> None:
    start = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)
    split = active_seconds_by_hour([(start, start + timedelta(hours=1))], now=start)
    assert split == {
        datetime(2026, 3, 2, 23, tzinfo=UTC): 1800.0,
        datetime(2026, 3, 3, 0, tzinfo=UTC): 1800.0,
    }


def test_chat_totals_turn_sums_into_ratios_only_at_the_end() -> None:
    a = ChatTotals(arrived=3, answered=2, first_response_sum=100, sl_counted=3, sl_met=2)
    b = ChatTotals(arrived=1, answered=1, first_response_sum=20, sl_counted=1, sl_met=0)
    k = ChatTotals().add(a).add(b).kpis()
    assert k["first_response_avg"] == pytest.approx(40)  # 120 / 3, not the mean of means
    assert k["service_level"] == pytest.approx(0.5)
    assert ChatTotals().kpis()["service_level"] is None


# --- calls ---------------------------------------------------------------------------------------


def call(wait: float, *, answered: bool, talk: float = 0, state: str | None = None, **kw):
    end = at(wait + talk) if answered else at(wait)
    return CallRecord(
        started_at=T0,
        answered_at=at(wait) if answered else None,
        ended_at=end,
        state=state or ("completed" if answered else "abandoned"),
        talk_seconds=talk,
        **kw,
    )


@override_settings(ANALYTICS_SHORT_ABANDON_SECONDS=5, ANALYTICS_CALL_SL_SECONDS=20)
@pytest.mark.parametrize(
    ("variant", "expected"),
    [("ignore", 2 / 3), ("against", 2 / 5), ("for", 3 / 5)],
)
def test_call_kpis_with_short_abandons_and_each_service_level_variant(
    variant: str, expected: float
) -> None:
    calls = [
        call(10, answered=True, talk=100, hold_seconds=20, wrapup_seconds=30),
        call(15, answered=True, talk=200),
        call(50, answered=True, talk=300),
        call(3, answered=False),  # short abandon: counted nowhere else
        call(12, answered=False),  # lost within the threshold
        call(40, answered=False, state="missed"),  # lost
        CallRecord(started_at=T0, answered_at=None, ended_at=None, state="queued"),  # live
    ]
    totals = CallTotals()
    for c in calls:
        figures = call_figures(c)
        if figures is not None:
            totals.add(figures)
    k = totals.kpis(sl_variant=variant)
    assert (k["offered"], k["answered"], k["abandoned"], k["short_abandoned"]) == (5, 3, 2, 1)
    assert k["lost_rate"] == pytest.approx(2 / 5)
    assert k["asa"] == pytest.approx(25)  # (10 + 15 + 50) / 3
    assert k["talk_avg"] == pytest.approx(200)
    assert k["handle_avg"] == pytest.approx((600 + 20 + 30) / 3)
    assert k["service_level"] == pytest.approx(expected)


# --- Erlang C -----------------------------------------------------------------------------------


def test_erlang_c_matches_the_published_example() -> None:
    # 360 calls/h × 240 s = 24 Erlangs; the classic table: 29 agents reach 80 % in 20 s.
    assert (
        agents_needed(calls_per_hour=360, handle_seconds=240, target_seconds=20, target_level=0.8)
        == 29
    )
    sl_28 = erlang_service_level(28, calls_per_hour=360, handle_seconds=240, target_seconds=20)
    sl_29 = erlang_service_level(29, calls_per_hour=360, handle_seconds=240, target_seconds=20)
    assert sl_28 < 0.8 <= sl_29
    assert sl_29 == pytest.approx(0.8, abs=0.05)


def test_erlang_c_textbook_values() -> None:
    # Probability of waiting, 2 Erlangs on 3 agents: 4/9 (≈ 0.444).
    assert erlang_c(3, 2.0) == pytest.approx(4 / 9)
    assert erlang_c(2, 2.0) == 1.0  # saturated
    assert (
        agents_needed(calls_per_hour=0, handle_seconds=240, target_seconds=20, target_level=0.8)
        == 0
    )


# --- time zones -----------------------------------------------------------------------------------


def test_a_local_day_across_a_dst_change_is_23_or_25_hours() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    spring = local_day_bounds(date(2026, 3, 29), date(2026, 3, 29), berlin)
    autumn = local_day_bounds(date(2026, 10, 25), date(2026, 10, 25), berlin)
    assert spring[1] - spring[0] == timedelta(hours=23)
    assert autumn[1] - autumn[0] == timedelta(hours=25)
    assert spring[0] == datetime(2026, 3, 28, 23, tzinfo=UTC)  # local midnight = 23:00 UTC


def test_filters_previous_period_is_the_same_length_just_before() -> None:
    f = Filters(start=T0, end=T0 + timedelta(days=7))
    assert (f.previous().start, f.previous().end) == (T0 - timedelta(days=7), T0)
