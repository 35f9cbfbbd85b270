"""A py-spy sampling profile of the web process during bench/live.py's fan-out, summarised:
where the samples are (the event loop's thread or the sync thread pool), which of our own
functions they pass through, and which frames they end in. py-spy is optional (`pip install
py-spy` into the virtualenv); without it, `--profile` only says so."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Leaf frames of a thread that is waiting, not running: py-spy's idle detection misses some
# (C-level waits in uvloop, the thread pool's queue, psycopg waiting for the server).
WAITING = (
    "select",
    "wait",
    "Runner.run",
    "run_forever",
    "_worker",
    "wait_c",
    "wait_epoll",
    "_run_once",
    "get",
)
FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def py_spy() -> str | None:
    local = Path(sys.executable).parent / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


def start(
    pid: int, seconds: float, out: Path, *, subprocesses: bool, rate: int = 50
) -> subprocess.Popen[bytes] | None:
    """Sample `pid` (and its children when uvicorn runs several workers) without stopping
    it (`--nonblocking`): the profile costs the server nothing but a core's slice to py-spy."""
    binary = py_spy()
    if binary is None:
        return None
    argv = [
        binary, "record", "--pid", str(pid), "--threads", "--nonblocking",
        "--rate", str(rate), "--full-filenames", "--duration", str(max(1, int(seconds))),
        "--format", "raw", "-o", str(out),
    ]  # fmt: skip
    if subprocesses:
        argv.append("--subprocesses")
    return subprocess.Popen(  # noqa: S603 - py-spy on our own child
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def _ours(path: str) -> str | None:
    if ".venv" in path or "site-packages" in path:
        return None
    for prefix in (str(ROOT) + "/", "/tmp/"):
        if path.startswith(prefix):
            return path
    if not path.startswith("/") and not path.startswith("<"):
        return path  # py-spy prints paths relative to the working directory
    return None


def summary(raw: Path, top: int = 15) -> list[str]:
    if not raw.exists():
        return ["profile: py-spy wrote nothing (not permitted to attach?)"]
    total = 0
    waiting = 0
    pool = 0
    inclusive: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    for line in raw.read_text(errors="replace").splitlines():
        stack, _sep, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        if frames:
            m = FRAME.match(frames[-1])
            func = m["func"] if m else frames[-1]
            if func.endswith(WAITING):
                waiting += count
                continue
        total += count
        if any("concurrent/futures/thread.py" in f for f in frames):
            pool += count
        seen = set()
        for frame in frames:
            m = FRAME.match(frame)
            if m is None:
                continue
            path = _ours(m["file"])
            if path is None:
                continue
            name = f"{m['func']} ({Path(path).parent.name}/{Path(path).name})"
            if name not in seen:
                seen.add(name)
                inclusive[name] += count
        if frames:
            m = FRAME.match(frames[-1])
            leaf[f"{m['func']} ({Path(m['file']).name})" if m else frames[-1]] += count
    if not total:
        return ["profile: no samples"]
    lines = [
        f"profile of the web process ({total} samples on CPU, {waiting} more "
        "waiting): "
        f"{100 * pool / total:.0f}% in the sync thread pool (sync_to_async / database), "
        f"{100 * (total - pool) / total:.0f}% on the event loop's thread",
        "  our functions on the stack (inclusive share of samples):",
    ]
    lines += [f"    {100 * n / total:5.1f}%  {name}" for name, n in inclusive.most_common(top)]
    lines.append("  where samples end (self share):")
    lines += [f"    {100 * n / total:5.1f}%  {name}" for name, n in leaf.most_common(top)]
    return lines
