"""Every benchmark still runs: each `bench/*.py` at its `--smoke` size, as a subprocess.

The figures are not judged (speed is measured in bench/, never asserted in a test); what is
checked is that the script exits 0 and prints its figures beside its baseline. Each script
brings its own database (`bench_<script>_<pid>`, cloned from a migrated template) and, where
it needs one, its own redis-server; nothing here touches the suite's database or Redis.
All run on one xdist worker, one after the other: they load the machine. Together they take
about two and a half minutes on a busy 2-core machine (live.py alone ~50 s; the first run
after a migration changes also builds the bench template database, ~40 s).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# A figure with its unit, as the benchmarks print them: "12.3 ms", "144 req/s", "9,573 rows/s".
FIGURE = re.compile(r"\d[\d,]*(\.\d+)?\s*(ms|s|req/s|events/s|rows/s|/s|x)\b")
SCRIPTS = [
    "ai",
    "ami",
    "analytics",
    "anomaly",
    "assignment",
    "customer",
    "inbox",
    "ingest",
    "list_load",
    "live",
    "summary",
]

pytestmark = pytest.mark.xdist_group("bench")


def _run(script: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.pop("REDIS_URL", None)  # a benchmark starts its own redis-server
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(  # noqa: S603 - our interpreter, our script
        [sys.executable, str(ROOT / "bench" / f"{script}.py"), "--smoke"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("script", SCRIPTS)
def test_the_benchmark_runs_and_prints_its_figures_beside_a_baseline(script: str) -> None:
    result = _run(script)
    tail = f"stdout:\n{result.stdout[-3000:]}\nstderr:\n{result.stderr[-3000:]}"
    assert result.returncode == 0, tail
    out = result.stdout.lower()
    assert "smoke" in out, tail  # it ran at the smoke size, and says so
    assert FIGURE.search(result.stdout), tail
    assert "baseline" in out or "bare" in out, tail  # its peer, measured in the same run


def test_every_benchmark_is_smoked() -> None:
    scripts = {
        path.stem
        for path in (ROOT / "bench").glob("*.py")
        if "__main__" in path.read_text(encoding="utf-8")
    }
    # bench/live_*.py are live.py's own processes (seed, clients), started by it.
    benchmarks = {s for s in scripts if not s.startswith("live_")}
    assert benchmarks <= set(SCRIPTS), benchmarks - set(SCRIPTS)
