"""The spike detector: a pure function over hourly counts, scored on a seeded
synthetic stream — precision, spike recall, false alerts on a quiet week, one alert a spike."""

from __future__ import annotations

import math

from analytics.ai import anomaly as A
from analytics.ai.anomaly_synth import evaluate, generate


def test_on_a_seeded_stream_it_meets_the_targets_and_the_flat_baseline_does_not() -> None:
    # given: 50 segments, 8 weeks of history, a test week with 30 spikes (≥ 2.5×, ≥ 6)
    data = generate(segments=50, history_weeks=8, spikes=30, seed=14)
    assert len(data.spikes) == 30
    for spike in data.spikes:
        hours = range(spike.start, spike.start + spike.hours)
        assert all(data.series[spike.segment][t] >= 6 for t in hours)
    # when
    score = evaluate(data)
    flat = evaluate(data, detector=A.detect_flat)
    # then
    assert score.precision >= 0.8, score
    assert score.recall >= 0.7, score
    assert score.clean_alerts <= 5, score
    assert score.duplicate_alerts == 0, score
    # the seasonal baseline is what makes it work: without it the quiet week is full of alerts
    assert flat.clean_alerts > 5 * max(1, score.clean_alerts)


def _weeks(pattern: list[int], weeks: int) -> list[int]:
    return pattern * weeks


def test_a_busy_hour_that_is_busy_every_week_is_not_a_spike() -> None:
    week = [1] * A.WEEK
    week[12] = 20  # every Monday at noon
    history = _weeks(week, 8)[: -A.WEEK + 12]  # up to the next Monday 11:00
    assert not A.detect(history, 21).anomalous
    # the same 21 at 11:00, an hour that usually has 1, is one
    verdict = A.detect(history[:-1], 21)
    assert verdict.anomalous and verdict.expected < 2


def test_the_floors_hold_whatever_the_tail_says() -> None:
    history = [0] * (8 * A.WEEK)
    assert not A.detect(history, 5).anomalous  # under the minimum count
    assert A.detect(history, 6).anomalous
    busy = [10] * (8 * A.WEEK)
    assert not A.detect(busy, 19).anomalous  # under twice the expected count


def test_a_segment_that_has_grown_is_compared_with_its_new_level() -> None:
    history = [4] * (7 * A.WEEK) + [8] * A.WEEK
    assert A.baseline(history) > 6.5
    assert not A.detect(history, 14).anomalous


def test_one_spike_of_several_hours_is_one_alert() -> None:
    series = [1] * (8 * A.WEEK) + [1] * 30
    for t in range(8 * A.WEEK + 10, 8 * A.WEEK + 13):
        series[t] = 15
    alerts = A.scan(series, 8 * A.WEEK)
    assert [t for t, _v in alerts] == [8 * A.WEEK + 10]


def test_the_tail_is_poisson_without_dispersion() -> None:
    # P(X ≥ 3 | λ = 1) = 1 - e⁻¹(1 + 1 + 1/2)
    assert math.isclose(A.upper_tail(3, 1.0, 0.0), 1 - math.exp(-1) * 2.5, rel_tol=1e-9)
    # over-dispersion makes the same count less surprising
    assert A.upper_tail(10, 3.0, 0.2) > A.upper_tail(10, 3.0, 0.0)
