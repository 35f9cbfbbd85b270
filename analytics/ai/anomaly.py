"""The spike detector: one pure function over hourly counts (no database, no clock).

`detect(history, observed)` asks whether `observed` contacts in one hour of one segment are a
spike, given the segment's hourly counts up to that hour (`history[-1]` is the hour before;
`history[-168]` the same weekday and hour a week earlier). The expected count is a seasonal
baseline — the same weekday × hour over the last weeks (robust, so a past spike does not
raise it), blended with an hour-of-day × weekday profile that is steadier at low volumes —
times a level factor (the last week against the weeks before, shrunk towards 1) so that a
segment that grows or shrinks is compared with its new normal. The test is a negative-binomial
upper tail (Poisson when the segment shows no over-dispersion) with a floor on the count and
on the ratio: a spike is rare under the baseline, large enough to act on, and well above it.

The periodic job (`analytics.ai.trends.anomaly_check`) and the benchmark (`bench/anomaly.py`)
call this same function; the job adds the cooldown that makes one spike one alert
(`scan()` does the same over a series, for the benchmark and tests).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

WEEK = 168
DAY = 24


@dataclass(frozen=True)
class DetectorConfig:
    weeks: int = 8  # of history the baseline reads
    min_count: int = 6  # fewer contacts than this in an hour is never a spike
    min_ratio: float = 2.0  # observed / expected at least this
    alpha: float = 2e-4  # upper-tail probability at most this
    min_dispersion: float = 0.02  # a floor on over-dispersion: models are never exact
    cooldown_hours: int = 6  # after an alert, the segment is quiet this long (scan / the job)
    level_prior: float = 24.0  # contacts of pseudo-count shrinking the level factor towards 1
    expected_floor: float = 0.1  # a segment with no history still expects a little


DEFAULT = DetectorConfig()


@dataclass(frozen=True)
class Verdict:
    observed: int
    expected: float
    p_value: float
    anomalous: bool

    @property
    def ratio(self) -> float:
        return self.observed / self.expected if self.expected > 0 else math.inf


def _robust_mean(values: list[int]) -> float:
    """The mean with each value capped at twice the median plus 4: last month's spike does
    not become normal, and (unlike dropping the largest) the usual hours are not biased low."""
    if not values:
        return 0.0
    ordered = sorted(values)
    cap = 2 * ordered[len(ordered) // 2] + 4
    return sum(min(x, cap) for x in values) / len(values)


def baseline(history: Sequence[int], config: DetectorConfig = DEFAULT) -> float:
    """The expected count of the hour right after `history` (see the module docstring)."""
    n = len(history)
    weeks = min(config.weeks, n // WEEK)
    if weeks == 0:
        days = min(28, n // DAY)
        same_hour = [history[n - DAY * d] for d in range(1, days + 1)]
        return (
            max(_robust_mean(same_hour), config.expected_floor)
            if same_hour
            else (config.expected_floor)
        )
    window = history[n - weeks * WEEK :]
    same_slot = [history[n - WEEK * k] for k in range(1, weeks + 1)]
    slot_mean = _robust_mean(same_slot)
    # Hour of day over the last four weeks' days, times this weekday's share of the week.
    days = min(28, n // DAY)
    hod_mean = _robust_mean([history[n - DAY * d] for d in range(1, days + 1)])
    total = sum(window)
    # The 24 hours of the weekday being tested, in each week of the window.
    weekday_total = 0
    for k in range(1, weeks + 1):
        start = n - WEEK * k
        weekday_total += sum(history[start : start + DAY])
    weekday_factor = (weekday_total * 7 / total) if total else 1.0
    profile = hod_mean * weekday_factor
    # The slot's own mean carries `weeks` samples; the profile counts as 4 more.
    seasonal = (weeks * slot_mean + 4 * profile) / (weeks + 4)
    level = 1.0
    if weeks >= 2:
        last = sum(history[n - WEEK :])
        before = (total - last) / (weeks - 1)
        level = (last + config.level_prior) / (before + config.level_prior)
        level = min(3.0, max(1 / 3, level))
    return max(seasonal * level, config.expected_floor)


def dispersion(history: Sequence[int], config: DetectorConfig = DEFAULT) -> float:
    """Over-dispersion φ (variance = μ + φμ²) of the segment, pooled over the week's slots by
    the method of moments; at least `config.min_dispersion`."""
    n = len(history)
    weeks = min(config.weeks, n // WEEK)
    if weeks < 3:
        return max(config.min_dispersion, 0.1)
    excess = 0.0
    squares = 0.0
    for slot in range(WEEK):
        samples = [history[n - WEEK * k + slot] for k in range(1, weeks + 1)]
        mean = sum(samples) / weeks
        var = sum((x - mean) ** 2 for x in samples) / (weeks - 1)
        excess += var - mean
        squares += mean * mean
    phi = excess / squares if squares > 0 else 0.0
    return min(1.0, max(config.min_dispersion, phi))


def upper_tail(observed: int, mean: float, phi: float) -> float:
    """P(X ≥ observed) for X negative binomial with this mean and φ (Poisson when φ = 0)."""
    if observed <= 0:
        return 1.0
    if phi <= 1e-9:
        log_pmf = -mean + observed * math.log(mean) - math.lgamma(observed + 1)
        ratio_next = lambda k: mean / (k + 1)  # noqa: E731
    else:
        r = 1 / phi
        p = r / (r + mean)
        log_pmf = (
            math.lgamma(observed + r)
            - math.lgamma(r)
            - math.lgamma(observed + 1)
            + r * math.log(p)
            + observed * math.log(1 - p)
        )
        ratio_next = lambda k: (k + r) / (k + 1) * (1 - p)  # noqa: E731
    # Sum the tail from `observed` upwards; terms fall geometrically past the mode.
    term = math.exp(log_pmf)
    total = term
    k = observed
    for _ in range(5000):
        term *= ratio_next(k)
        k += 1
        total += term
        if term < total * 1e-12:
            break
    return min(1.0, total)


def detect(history: Sequence[int], observed: int, config: DetectorConfig = DEFAULT) -> Verdict:
    """Is `observed` (the count of the hour right after `history`) a spike?"""
    if observed < config.min_count:
        return Verdict(observed, 0.0, 1.0, False)
    expected = baseline(history, config)
    if observed < config.min_ratio * expected:
        return Verdict(observed, expected, 1.0, False)
    p_value = upper_tail(observed, expected, dispersion(history, config))
    return Verdict(observed, expected, p_value, p_value <= config.alpha)


def detect_flat(history: Sequence[int], observed: int, config: DetectorConfig = DEFAULT) -> Verdict:
    """The baseline the benchmark compares with: no seasonality — the mean of the last seven
    days' hours, a Poisson tail, the same floors."""
    if observed < config.min_count:
        return Verdict(observed, 0.0, 1.0, False)
    window = history[-7 * DAY :]
    expected = max(sum(window) / len(window), config.expected_floor) if window else 1.0
    if observed < config.min_ratio * expected:
        return Verdict(observed, expected, 1.0, False)
    p_value = upper_tail(observed, expected, 0.0)
    return Verdict(observed, expected, p_value, p_value <= config.alpha)


def scan(
    series: Sequence[int],
    start: int,
    config: DetectorConfig = DEFAULT,
    detector: Callable[[Sequence[int], int, DetectorConfig], Verdict] = detect,
) -> list[tuple[int, Verdict]]:
    """Alerts over `series[start:]`, hour by hour as the job sees them, with the cooldown:
    [(hour index, verdict)]."""
    alerts: list[tuple[int, Verdict]] = []
    quiet_until = -1
    for t in range(start, len(series)):
        if t < quiet_until:
            continue
        verdict = detector(series[:t], series[t], config)
        if verdict.anomalous:
            alerts.append((t, verdict))
            quiet_until = t + config.cooldown_hours
    return alerts
