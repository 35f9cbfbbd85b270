"""A seeded synthetic contact stream with injected spikes, and the detector's scores on it.

Used by `bench/anomaly.py` (full size) and the tests (a smaller run). Each segment has its own
volume (0.2–8 contacts an hour on average), a daily shape (food delivery: lunch and dinner
peaks, busier weekends; business travel: office hours, quiet weekends), a slow trend, an
occasional level shift in the test week, and negative-binomial noise. Spikes are injected
into the test week only: 1–3 hours at 2.5–6× the segment's rate, and at least 6 contacts.
A second test week is drawn with no spikes at all, to count false alerts.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

from analytics.ai.anomaly import DEFAULT, WEEK, DetectorConfig, detect, scan

_FOOD = [0.1, 0.05, 0.03, 0.03, 0.03, 0.05, 0.2, 0.5, 0.8, 0.9, 1.1, 1.6, 2.2, 2.0, 1.4, 1.0,
         1.0, 1.4, 2.0, 2.4, 2.2, 1.6, 0.9, 0.4]  # fmt: skip
_TRAVEL = [0.05, 0.03, 0.03, 0.03, 0.05, 0.2, 0.6, 1.2, 2.0, 2.4, 2.4, 2.2, 1.8, 2.0, 2.2, 2.1,
           1.9, 1.5, 1.0, 0.6, 0.4, 0.3, 0.2, 0.1]  # fmt: skip
_FOOD_DAYS = [0.9, 0.9, 0.95, 1.0, 1.15, 1.3, 1.2]
_TRAVEL_DAYS = [1.2, 1.2, 1.15, 1.1, 1.0, 0.35, 0.3]


@dataclass
class Spike:
    segment: int
    start: int  # hour index in the whole series
    hours: int
    factor: float


@dataclass
class Synthetic:
    history_weeks: int
    series: list[list[int]]  # per segment: history + the test week with spikes
    clean: list[list[int]]  # per segment: the same history + a test week without spikes
    spikes: list[Spike] = field(default_factory=list)

    @property
    def test_start(self) -> int:
        return self.history_weeks * WEEK


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 40:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    threshold, k, product = math.exp(-lam), 0, rng.random()
    while product > threshold:
        k += 1
        product *= rng.random()
    return k


def _nb(rng: random.Random, mean: float, phi: float) -> int:
    # gamma-Poisson mixture: variance mean + phi * mean²
    return _poisson(rng, rng.gammavariate(1 / phi, mean * phi) if mean > 0 else 0.0)


def generate(
    *, segments: int = 60, history_weeks: int = 8, spikes: int = 40, seed: int = 14
) -> Synthetic:
    rng = random.Random(seed)  # noqa: S311 - a reproducible simulation, not a secret
    rates: list[list[float]] = []
    series: list[list[int]] = []
    clean: list[list[int]] = []
    for _s in range(segments):
        food = rng.random() < 0.6
        shape, days = (_FOOD, _FOOD_DAYS) if food else (_TRAVEL, _TRAVEL_DAYS)
        mean = math.exp(rng.uniform(math.log(0.2), math.log(8)))
        growth = rng.uniform(0.98, 1.03)  # a week
        shift = rng.uniform(0.8, 1.3) if rng.random() < 0.2 else 1.0  # the test week
        phi = rng.uniform(0.02, 0.15)
        hod_norm = sum(shape) / 24
        day_norm = sum(days) / 7
        lam: list[float] = []
        for t in range((history_weeks + 1) * WEEK):
            week, slot = divmod(t, WEEK)
            day, hour = divmod(slot, 24)
            level = mean * growth**week * (shift if week == history_weeks else 1.0)
            lam.append(level * shape[hour] / hod_norm * days[day] / day_norm)
        counts = [_nb(rng, x, phi) for x in lam]
        other_week = [_nb(rng, x, phi) for x in lam[history_weeks * WEEK :]]
        rates.append(lam)
        series.append(counts)
        clean.append(counts[: history_weeks * WEEK] + other_week)
    data = Synthetic(history_weeks=history_weeks, series=series, clean=clean)
    start = history_weeks * WEEK
    busy: dict[int, list[tuple[int, int]]] = {}
    while len(data.spikes) < spikes:
        segment = rng.randrange(segments)
        hours = rng.choice((1, 1, 2, 3))
        begin = start + rng.randrange(WEEK - hours)
        # Spikes on one segment are a day apart at least: two of them are two incidents.
        if any(abs(begin - other) < 24 for other, _h in busy.get(segment, [])):
            continue
        factor = rng.uniform(2.5, 6.0)
        for t in range(begin, begin + hours):
            lam_t = rates[segment][t]
            series[segment][t] = max(6, math.ceil(factor * lam_t), _poisson(rng, factor * lam_t))
        busy.setdefault(segment, []).append((begin, hours))
        data.spikes.append(Spike(segment=segment, start=begin, hours=hours, factor=factor))
    return data


@dataclass
class Score:
    alerts: int
    true_alerts: int
    spikes: int
    spikes_found: int
    duplicate_alerts: int  # alerts beyond the first for one spike
    clean_alerts: int  # on the week with no spikes

    @property
    def precision(self) -> float:
        return self.true_alerts / self.alerts if self.alerts else 1.0

    @property
    def recall(self) -> float:
        return self.spikes_found / self.spikes if self.spikes else 1.0


def evaluate(data: Synthetic, config: DetectorConfig = DEFAULT, detector: Any = detect) -> Score:
    """Run the detector hour by hour over both test weeks and score it against the spikes."""
    alerts = true_alerts = duplicates = clean_alerts = 0
    found: set[int] = set()
    for segment, counts in enumerate(data.series):
        mine = [(i, s) for i, s in enumerate(data.spikes) if s.segment == segment]
        per_spike: dict[int, int] = {}
        for t, _verdict in scan(counts, data.test_start, config, detector):
            alerts += 1
            hit = next((i for i, s in mine if s.start <= t < s.start + s.hours), None)
            if hit is not None:
                true_alerts += 1
                per_spike[hit] = per_spike.get(hit, 0) + 1
        found.update(per_spike)
        duplicates += sum(n - 1 for n in per_spike.values())
        clean_alerts += len(scan(data.clean[segment], data.test_start, config, detector))
    return Score(
        alerts=alerts,
        true_alerts=true_alerts,
        spikes=len(data.spikes),
        spikes_found=len(found),
        duplicate_alerts=duplicates,
        clean_alerts=clean_alerts,
    )
