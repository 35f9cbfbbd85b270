"""Spike detection: precision, recall and false alerts on a seeded synthetic contact stream.

    .venv/bin/python bench/anomaly.py [--smoke] [--segments 60] [--spikes 40] [--seed 14]

Generates (`analytics.ai.anomaly_synth`) hourly contact counts for `--segments` segments
(food delivery and business-travel shapes, 0.2–8 contacts an hour, weekly seasonality,
trends, level shifts, negative-binomial noise): 8 weeks of history and a test week with
`--spikes` injected spikes (1–3 hours, 2.5–6× the rate, ≥ 6 contacts), and a second test
week with none. Runs the production detector (`analytics.ai.anomaly.detect`, the function
the beat job calls) hour by hour with the per-segment cooldown, and prints precision, spike
recall, alerts beyond the first per spike, false alerts on the quiet week, and the time per
check — beside the flat baseline (last 7 days' mean, Poisson, the same floors) in the same
run. Targets (issue 14): precision ≥ 0.8, recall ≥ 0.7, ≤ 5 false alerts, one alert a spike.
No database. `--smoke`: 50 segments, 30 spikes (the minimum the targets are stated for).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402


def main() -> None:
    p = common.parser(__doc__)
    p.add_argument("--segments", type=int, default=60)
    p.add_argument("--spikes", type=int, default=40)
    p.add_argument("--seed", type=int, default=14)
    args = p.parse_args()
    if args.smoke:
        args.segments, args.spikes = 50, 30
    # The detector is pure Python over counts: no Django, no database.
    from analytics.ai.anomaly import DEFAULT, detect, detect_flat
    from analytics.ai.anomaly_synth import evaluate, generate

    common.smoke_note(args.smoke)
    data = generate(segments=args.segments, spikes=args.spikes, seed=args.seed)
    checks = 2 * args.segments * 168
    print(
        f"segments: {args.segments}, history: {data.history_weeks} weeks, spikes: "
        f"{len(data.spikes)} in the test week, seed {args.seed}; "
        f"min count {DEFAULT.min_count}, min ratio {DEFAULT.min_ratio}, alpha {DEFAULT.alpha}, "
        f"cooldown {DEFAULT.cooldown_hours} h"
    )
    print(f"{'':26} {'seasonal NB':>12} {'baseline: flat':>15}")
    rows = {}
    for name, detector in (("seasonal", detect), ("flat", detect_flat)):
        start = time.perf_counter()
        score = evaluate(data, detector=detector)
        elapsed = time.perf_counter() - start
        rows[name] = (score, elapsed * 1000 / checks)
    seasonal, flat = rows["seasonal"], rows["flat"]
    lines = [
        ("alerts (spike week)", lambda s: f"{s.alerts}"),
        ("precision", lambda s: f"{s.precision:.2f}"),
        ("spike recall", lambda s: f"{s.recall:.2f} ({s.spikes_found}/{s.spikes})"),
        ("extra alerts per spike", lambda s: f"{s.duplicate_alerts}"),
        ("false alerts, quiet week", lambda s: f"{s.clean_alerts}"),
    ]
    for label, show in lines:
        print(f"{label:26} {show(seasonal[0]):>12} {show(flat[0]):>15}")
    print(f"{'time per check':26} {seasonal[1]:>9.3f} ms {flat[1]:>12.3f} ms")
    score = seasonal[0]
    met = (
        score.precision >= 0.8
        and score.recall >= 0.7
        and score.clean_alerts <= 5
        and score.duplicate_alerts == 0
    )
    print(f"targets (P ≥ 0.8, R ≥ 0.7, ≤ 5 false, 1 alert a spike): {'met' if met else 'MISSED'}")


if __name__ == "__main__":
    main()
