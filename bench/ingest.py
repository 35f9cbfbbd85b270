"""Telegram webhook ingest, end to end, beside a bare JSON view in the same run.

    .venv/bin/python bench/ingest.py [--requests 3000] [--concurrency 16]
    .venv/bin/python bench/ingest.py --smoke     # seconds: proves it runs (CI)

Starts the real ASGI app under uvicorn (one process) on its own PostgreSQL database
(`bench_ingest_<pid>`, dropped at the end) with Celery pointed at a redis-server the bench
starts on a free port (bench/common.py) and no worker, so "accepted" means: secret checked, body
parsed, update stored once in PostgreSQL, processing task queued in Redis. A second process
sends the load over keep-alive HTTP connections: first to a bare view that only parses the
JSON (the baseline), then to `POST /integrations/telegram/<id>/webhook` with real-format
updates. Prints requests per second, p50/p95 latency, the ratio, and checks that every update
was stored and queued exactly once. Not a test: it asserts nothing about speed, it prints.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402


def _env(db_url: str, redis_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "DJANGO_SETTINGS_MODULE": "bench.ingest_site",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or common.SECRET,
        "DEBUG": "false",
        "SECURE_COOKIES": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "STATIC_ROOT": os.environ.get("BENCH_STATIC_ROOT", "/tmp/smartdesk-bench-static"),
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }


def _setup(env: dict[str, str]) -> tuple[int, str]:
    """Create the Telegram inbox; returns (inbox id, secret)."""
    code = (
        "import smartdesk, django; django.setup();"  # the package first: see common.setup_django
        "from chats.models import Inbox;"
        "i = Inbox.objects.create(name='Bench bot', kind='telegram', bot_token='1:bench');"
        "print(i.pk, i.secret)"
    )
    out = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code],
        env=env,
        cwd=ROOT,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout.split()
    return int(out[-2]), out[-1]


def _update(n: int) -> bytes:
    return json.dumps(
        {
            "update_id": 10_000_000 + n,
            "message": {
                "message_id": n,
                "from": {
                    "id": 900_000 + n % 500,
                    "is_bot": False,
                    "first_name": "Ольга",
                    "language_code": "ru",
                },
                "chat": {"id": 900_000 + n % 500, "first_name": "Ольга", "type": "private"},
                "date": 1_760_000_000,
                "text": "👋 Здравствуйте! Заказ №42 не пришёл, подскажите, пожалуйста",
                "entities": [{"offset": 17, "length": 9, "type": "bold"}],
            },
        },
        ensure_ascii=False,
    ).encode()


def _load(url: str, headers: dict[str, str], start: int, count: int, threads: int, out) -> None:
    """The second process: `threads` keep-alive clients share `count` requests."""
    import threading

    import httpx

    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    counter = iter(range(start, start + count))

    def worker() -> None:
        with httpx.Client(timeout=30, headers=headers) as client:
            while True:
                with lock:
                    n = next(counter, None)
                if n is None:
                    return
                began = time.perf_counter()
                response = client.post(url, content=_update(n))
                took = time.perf_counter() - began
                with lock:
                    latencies.append(took)
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

    began = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    out.put((time.perf_counter() - began, latencies, statuses))


def _run(url: str, headers: dict[str, str], start: int, count: int, threads: int) -> dict:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    proc = context.Process(target=_load, args=(url, headers, start, count, threads, queue))
    proc.start()
    seconds, latencies, statuses = queue.get()
    proc.join()
    latencies.sort()
    return {
        "rps": count / seconds,
        "p50": statistics.median(latencies) * 1000,
        "p95": latencies[int(len(latencies) * 0.95) - 1] * 1000,
        "statuses": statuses,
    }


def main() -> None:
    parser = common.parser(__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args()
    if args.smoke:
        args.requests, args.concurrency, args.warmup = 100, 4, 20
    common.smoke_note(args.smoke)

    with common.private_redis() as redis_url:
        _main(args, common.private_database("ingest"), redis_url)


def _main(args, db_url: str, redis_url: str) -> None:
    import redis

    env = _env(db_url, redis_url)
    broker = redis.Redis.from_url(redis_url)  # this run's own server: FLUSHDB empties only it
    inbox_id, secret = _setup(env)
    port = common.free_port()
    server = subprocess.Popen(  # noqa: S603 - our own interpreter and uvicorn
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.ingest_site_asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
        cwd=ROOT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        common.wait_for_port(port, process=server)
        json_headers = {"Content-Type": "application/json"}
        hook_headers = {**json_headers, "X-Telegram-Bot-Api-Secret-Token": secret}
        hook = f"{base}/integrations/telegram/{inbox_id}/webhook"
        # Warm both paths (connections, imports, first queries), then measure.
        _run(f"{base}/bench/bare", json_headers, 0, args.warmup, args.concurrency)
        _run(hook, hook_headers, 0, args.warmup, args.concurrency)
        broker.flushdb()
        bare = _run(f"{base}/bench/bare", json_headers, 1_000_000, args.requests, args.concurrency)
        webhook = _run(hook, hook_headers, 1_000_000, args.requests, args.concurrency)
    finally:
        server.terminate()
        server.wait(15)

    import psycopg

    with psycopg.connect(db_url) as conn:
        stored = conn.execute(
            "SELECT count(*) FROM chats_telegramupdate WHERE update_id >= 11000000"
        ).fetchone()[0]
    queued = broker.llen("celery")
    broker.flushdb()

    print(
        f"Telegram webhook ingest — {args.requests} requests per endpoint, "
        f"{args.concurrency} concurrent keep-alive clients in a second process, "
        f"body {len(_update(1))} bytes, uvicorn 1 process, PostgreSQL + Redis broker, no worker"
    )
    for name, result in (("bare JSON view (baseline)", bare), ("telegram webhook", webhook)):
        print(
            f"  {name:<28} {result['rps']:8.0f} req/s   p50 {result['p50']:6.1f} ms   "
            f"p95 {result['p95']:6.1f} ms   statuses {result['statuses']}"
        )
    print(f"  webhook / bare: {webhook['rps'] / bare['rps']:.2f}x the baseline's throughput")
    print(f"  stored once: {stored} of {args.requests}; queued once: {queued} of {args.requests}")


if __name__ == "__main__":
    main()
