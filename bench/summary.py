"""Hand-over summaries: key-fact recall on the annotated dialog set, beside a baseline.

    .venv/bin/python bench/summary.py [--smoke]

Reads `analytics/ai/data/summary_dialogs.jsonl` (ru + en dialogs written for this project,
each with its key facts — order and booking numbers, amounts, dates, addresses, flights —
annotated verbatim) and prints, for the offline hand-over card (`analytics.ai.summary`) and
for the baseline "first customer turn + last operator turn" (clipped to the same 60 words):
the share of key facts each keeps, per language and overall; the cards that break a rule
(a number not in the dialog, another language, over 60 words); and the card's CPU time per
dialog. No database, no network. `--smoke`: the first 10 dialogs.

Not a test: tests/analytics/ai/test_summary.py holds the card to recall ≥ 0.80.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402


def main() -> None:
    args = common.parser(__doc__).parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smartdesk.settings")
    os.environ.setdefault("SECRET_KEY", common.SECRET)
    import django

    django.setup()
    from analytics.ai import summary as S

    dialogs = S.load_dialogs()
    if args.smoke:
        dialogs = dialogs[:10]
    common.smoke_note(args.smoke)
    print(f"dialogs: {len(dialogs)} ({sum(len(d['facts']) for d in dialogs)} key facts)")
    print(f"{'':14} {'card':>8} {'baseline':>9}")
    for lang in ("ru", "en", None):
        subset = [d for d in dialogs if lang is None or d["lang"] == lang]
        if not subset:
            continue
        result = S.evaluate(subset)
        name = f"recall {lang or 'all'}"
        print(f"{name:14} {result['recall']:8.2f} {result['baseline_recall']:9.2f}")
    result = S.evaluate(dialogs)
    print(f"cards breaking a rule: {len(result['violations'])}")
    for violation in result["violations"]:
        print(f"  {violation}")
    times = []
    for _round in range(3 if args.smoke else 20):
        for item in dialogs:
            start = time.perf_counter()
            S.handover_card(item["turns"], lang=item["lang"])
            times.append((time.perf_counter() - start) * 1000)
    times.sort()
    p95 = times[int(len(times) * 0.95) - 1]
    words = [len(S.handover_card(d["turns"], lang=d["lang"]).text.split()) for d in dialogs]
    print(f"card length: median {statistics.median(words):.0f} words, max {max(words)}")
    print(f"card time: median {statistics.median(times):.2f} ms, p95 {p95:.2f} ms per dialog")


if __name__ == "__main__":
    main()
