"""Conversation classification: CPU per message, and message → label in the production shape.

    .venv/bin/python bench/ai.py [--smoke] [--seconds 300] [--rate 10]

1. CPU milliseconds per message on one thread (`time.process_time`, one message per call, the
   model loaded and warm), over the held-out set: the default backend (multilingual sentence
   encoder + logistic regression, `analytics.ai`) beside the baseline, TF-IDF character n-grams
   with the same head, both trained on the seed set in this run.
2. The production shape: a private PostgreSQL database, a private redis-server, a real Celery
   worker process (`celery -A smartdesk worker` on both queues). This process
   stores customer messages through `message_receive` at `--rate` new conversations per second
   for `--seconds`; the worker classifies each (the hook after the first customer message).
   Printed: message → stored label p50/p95/max (the message's `created_at` to the
   classification's `classified_at`), for the default backend and then for the TF-IDF
   baseline (a second worker).

`--smoke`: 30 messages in part 1, 4 seconds per backend in part 2. Targets (issue 14): p95
≤ 100 ms CPU per message; p95 ≤ 2 s message → label at 10 messages/s for 5 minutes.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def cpu_per_message(smoke: bool) -> None:
    from analytics.ai import classifier
    from analytics.ai.classifier import vectors

    heldout = classifier.load_examples(classifier.HELDOUT_FILE)
    texts = [e.text for e in heldout][: 30 if smoke else None]
    print(f"part 1: CPU per message, one thread, {len(texts)} held-out messages")
    print(f"{'backend':28} {'p50 ms':>8} {'p95 ms':>8} {'macro-F1':>9}")
    for name, label in (("use", "sentence encoder (default)"), ("tfidf", "TF-IDF baseline")):
        head = classifier.default_head(name)
        head.predict(texts[:3])  # warm: weights loaded, caches filled
        vectors._cache.clear()  # the encoder's memo would hide its cost
        times = []
        for text in texts:
            vectors._cache.clear()
            start = time.process_time()
            head.predict([text])
            times.append((time.process_time() - start) * 1000)
        f1 = classifier.evaluate(head, heldout)["all"]["macro_f1"]
        print(f"{label:28} {pct(times, 0.5):8.2f} {pct(times, 0.95):8.2f} {f1:9.3f}")


def production_shape(args) -> None:
    from bench import live_harness as H

    url = os.environ["DATABASE_URL"]
    seconds = 4.0 if args.smoke else float(args.seconds)
    rate = float(args.rate)
    print(f"part 2: production shape, {rate:g} messages/s for {seconds:g} s per backend")
    print(f"{'backend':28} {'msgs':>5} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    redis_url = os.environ["REDIS_URL"]
    from django.conf import settings
    from django.db import close_old_connections

    assert not settings.CELERY_TASK_ALWAYS_EAGER, "the tasks must go to the worker"

    from analytics.ai.models import Classification
    from chats.models import Message
    from chats.services.messages import message_receive
    from tests import factories

    inbox = factories.make_inbox(name=f"bench ai {os.getpid()}")
    texts = [e["text"] for e in _heldout_rows()]
    for name, label in (("use", "sentence encoder (default)"), ("tfidf", "TF-IDF baseline")):
        log_dir = Path(tempfile.mkdtemp(prefix=f"bench-ai-{name}-"))
        env = H.base_env(
            url,
            redis_url,
            AI_CLASSIFIER_BACKEND=name,
            AI_CLASSIFY_ENABLED="true",
            WORKER_CONCURRENCY="2",
        )
        worker = H.start_worker(env, log_dir)
        try:
            H.wait_worker(worker)
            # Warm-up: each pool process loads (tfidf: trains) its model as it starts; a few
            # messages reach both before the clock starts.
            warm = [
                _send(message_receive, inbox, factories, f"Where is my order? warm-up {i}")
                for i in range(4)
            ]
            H.wait_until(
                lambda warm=warm: (
                    Classification.objects.filter(
                        conversation_id__in=[m.conversation_id for m in warm]
                    ).count()
                    == len(warm)
                ),
                600,
                "the worker's first classifications",
                every=0.2,
            )
            sent = []
            start = time.monotonic()
            n = int(seconds * rate)
            for i in range(n):
                due = start + i / rate
                pause = due - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                sent.append(_send(message_receive, inbox, factories, texts[i % len(texts)]))
            ids = [m.conversation_id for m in sent]
            H.wait_until(
                lambda ids=ids: (
                    Classification.objects.filter(conversation_id__in=ids).count() == len(ids)
                ),
                300,
                "every message classified",
                every=0.2,
            )
            at = dict(
                Message.objects.filter(pk__in=[m.pk for m in sent]).values_list(
                    "conversation_id", "created_at"
                )
            )
            lat = [
                (c.classified_at - at[c.conversation_id]).total_seconds() * 1000
                for c in Classification.objects.filter(conversation_id__in=ids)
            ]
            print(
                f"{label:28} {len(lat):5d} {pct(lat, 0.5):8.0f} {pct(lat, 0.95):8.0f} "
                f"{max(lat):8.0f}"
            )
        finally:
            worker.terminate()
            close_old_connections()


def _heldout_rows() -> list[dict]:
    import json

    path = ROOT / "analytics" / "ai" / "data" / "heldout.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


_n = 0


def _send(message_receive, inbox, factories, text: str):
    global _n
    _n += 1
    customer = factories.make_customer(email=f"bench-ai-{os.getpid()}-{_n}@x.test")
    message, _created = message_receive(inbox=inbox, customer=customer, body=text)
    return message


def main() -> None:
    p = common.parser(__doc__)
    p.add_argument("--seconds", type=float, default=300.0)
    p.add_argument("--rate", type=float, default=10.0)
    args = p.parse_args()
    # A SIGTERM (a timeout, Ctrl-C in a wrapper) unwinds normally: the worker is stopped, the
    # database dropped, the redis-server ended.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    common.smoke_note(args.smoke)
    common.private_database("ai")
    common.production_env()
    os.environ["AI_CLASSIFY_ENABLED"] = "true"
    with common.private_redis() as redis_url:
        os.environ["REDIS_URL"] = redis_url
        os.environ.pop("CELERY_BROKER_URL", None)
        common.setup_django()
        cpu_per_message(args.smoke)
        production_shape(args)
    print("baseline: TF-IDF character n-grams, measured in the same run")


if __name__ == "__main__":
    main()
