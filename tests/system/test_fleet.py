"""A fleet on one host: 2 uvicorn + 2 Celery workers + 2 beats on one PostgreSQL and
Redis, every process sharing one PROMETHEUS_MULTIPROC_DIR as the processes of one pod do.

- Only one beat sends periodic jobs (the leader lock); the other stands by and takes over
  when the leader stops. Each periodic job runs once per period, not once per beat.
- A burst of conversations through both web processes: each is assigned exactly once, every
  reply is delivered exactly once.
- `/metrics` from either web process reports the fleet: task runs done in the workers'
  pool children, assignments made in workers and webs, matching the database and the beats'
  logs; the WebSocket gauge comes back to 0 when the sockets close, also when the web process
  that held them is killed.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.system import harness
from tests.system.client import LiveLoop
from tests.system.conftest import BOT_TOKEN, SETUP_SCRIPT, SlowBotApi, Stack

pytestmark = [pytest.mark.system, pytest.mark.xdist_group("system")]

SWEEP = "sweep-stuck-deliveries"  # every DELIVERY_SWEEP_SECONDS (5 s in base_env)
SWEEP_TASK = "chats.channels.tasks.sweep_stuck_deliveries"
SWEEP_SECONDS = 5
LOCK_SECONDS = 6
SENT = re.compile(
    r"\[([-0-9]+ [:0-9]+,[0-9]+): [A-Z]+/MainProcess\] Scheduler: Sending due task (\S+)"
)


def _periods() -> dict[str, float]:
    """Each periodic job's period, from the beat schedule itself (so a job added later is
    judged by its own period); the delivery sweep as this stack sets it."""
    from smartdesk.celery import app

    periods = {
        name: entry["schedule"].total_seconds()
        for name, entry in app.conf.beat_schedule.items()
        if isinstance(entry["schedule"], timedelta)
    }
    periods[SWEEP] = SWEEP_SECONDS
    return periods


def _sends(proc: harness.Proc) -> list[str]:
    """The periodic jobs a beat has sent, in order."""
    return [job for _, job in SENT.findall(proc.log())]


def _too_soon(procs: list[harness.Proc]) -> list[str]:
    """Sends of a job, by any beat, less than (most of) its period after its previous send."""
    times: dict[str, list[datetime]] = {}
    for proc in procs:
        for stamp, job in SENT.findall(proc.log()):
            when = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").replace(tzinfo=UTC)
            times.setdefault(job, []).append(when)
    found = []
    for job, stamps in times.items():
        stamps.sort()
        period = _periods().get(job, 3600)
        for earlier, later in itertools.pairwise(stamps):
            if (later - earlier).total_seconds() < period * 0.8:
                found.append(f"{job} at {earlier:%T.%f} and again at {later:%T.%f}")
    return found


def metric(text: str, name: str, **labels: str) -> float:
    """The sum of the samples `name` whose labels include `labels`."""
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


@pytest.fixture(scope="module")
def fleet() -> Iterator[Stack]:
    name = f"system_fleet_{os.getpid()}"
    bot = SlowBotApi()
    redis = harness.RedisServer()
    multiproc = Path(tempfile.mkdtemp(prefix="smartdesk-fleet-metrics-"))
    built: Stack | None = None
    with bot.running():
        try:
            redis.start()
            database_url = harness.system_database(name)
            env = harness.base_env(
                database_url,
                redis.url,
                TELEGRAM_API_BASE=bot.url,
                PROMETHEUS_MULTIPROC_DIR=multiproc,
                BEAT_LOCK_SECONDS=LOCK_SECONDS,
                DELIVERY_SWEEP_SECONDS=SWEEP_SECONDS,
                PRESENCE_AWAY_AFTER_SECONDS=3600,
            )
            # Seeded with the same directory: its assignments are counted like any process's.
            harness.seed_demo(env)
            out = harness.manage(
                ["shell", "-c", f"BOT_TOKEN = {BOT_TOKEN!r}\n{SETUP_SCRIPT}"], env, timeout=120
            )
            data = json.loads(out.strip().splitlines()[-1])
            built = Stack(database_url, redis, env, bot, data)
            for _ in range(2):
                built.webs.append(harness.start_web(env, harness.free_port()))
            # The first worker also serves the host's metric files on a port of its own, as a
            # worker pod does (METRICS_PORT).
            metrics_port = harness.free_port()
            worker_env = {**env, "METRICS_PORT": str(metrics_port)}
            built.workers.append(harness.start_worker(worker_env))
            built.workers[0].base_url = f"http://127.0.0.1:{metrics_port}"
            built.start_worker()
            for index in range(2):
                schedule = harness.log_dir() / f"fleet-beat-{index}-{name}"
                built.extra.append(harness.start_beat(env, schedule))
            yield built
        finally:
            for proc in built.procs if built else []:
                proc.terminate(timeout=10)
            redis.stop()
            if built is not None and built._db is not None:
                built._db.close()
            harness.drop_database(name)
            shutil.rmtree(multiproc, ignore_errors=True)


def _beats(fleet: Stack) -> list[harness.Proc]:
    return [p for p in fleet.extra if p.name.startswith("beat-")]


def _leader(fleet: Stack) -> tuple[harness.Proc, harness.Proc]:
    def decided() -> tuple[harness.Proc, harness.Proc] | None:
        beats = [p for p in _beats(fleet) if p.alive]
        leaders = [p for p in beats if "beat: leader now" in p.log()]
        standbys = [p for p in beats if "standing by" in p.log()]
        if len(leaders) == 1 and len(standbys) == 1 and leaders != standbys:
            return leaders[0], standbys[0]
        return None

    return fleet.wait(decided, 30, "one beat to lead and the other to stand by")


def test_one_beat_leads_each_job_runs_once_per_period_and_a_standby_takes_over(
    fleet: Stack,
) -> None:
    beats = _beats(fleet)

    # when: the 5-second sweep has been sent a few times and the 30-second jobs have come due
    fleet.wait(lambda: sum(_sends(beat).count(SWEEP) for beat in beats) >= 4, 60, "4 sweeps sent")
    fleet.wait(
        lambda: any("wake-due-conversations" in _sends(beat) for beat in beats),
        60,
        "the 30-second jobs to come due",
    )

    # then: each job went once per period, from one beat; the other stood by
    assert _too_soon(beats) == []
    leader, standby = _leader(fleet)
    assert _sends(standby) == [], standby.tail()
    # and the workers ran each sweep once: the fleet's task count matches the beat's sends
    web = fleet.web(1)
    fleet.wait(
        lambda: (
            metric(
                fleet.metrics(web),
                "smartdesk_celery_tasks_total",
                task=SWEEP_TASK,
                outcome="SUCCESS",
            )
            == _sends(leader).count(SWEEP)
        ),
        30,
        "the fleet's sweep runs to equal the beat's sends",
    )

    # when: the leader stops (a rolling update, a node drained)
    leader.terminate(timeout=20)
    assert "released the leader lock" in leader.log(), leader.tail()
    before = len(_sends(standby))

    # then: the standby leads within the lock's lifetime and sends the sweep
    standby.wait_for_log("beat: leader now", LOCK_SECONDS * 2)
    fleet.wait(
        lambda: _sends(standby)[before:].count(SWEEP) >= 1,
        LOCK_SECONDS + SWEEP_SECONDS * 2,
        "the new leader to send the sweep",
    )
    # and kept the rhythm: it adopted the jobs' last runs instead of sending all at once
    assert _too_soon(_beats(fleet)) == []
    # (a fresh standby for the next tests' fleet: the stopped beat again)
    leader.start()


def _online_everyone(fleet: Stack) -> list[str]:
    online = []
    for index, username in enumerate(sorted(fleet.data["users"])):
        answer = httpx.post(
            f"{fleet.web(index % 2)}/api/v1/me/presence/",
            json={"presence": "online"},
            headers={"Authorization": f"Token {fleet.user(username)['token']}"},
            timeout=30,
        )
        if answer.status_code == 200:
            online.append(username)
    return online


def test_a_burst_is_assigned_and_delivered_exactly_once_and_metrics_match_the_database(
    fleet: Stack,
) -> None:
    assert len(_online_everyone(fleet)) >= 2
    chats = list(range(81001, 81013))

    # when: customers write through both web processes
    for n, chat in enumerate(chats):
        answer = fleet.telegram_update(fleet.web(n % 2), chat_id=chat, text=f"fleet hello {chat}")
        assert answer.status_code == 200, answer.text
    conversations = {chat: fleet.telegram_conversation(chat) for chat in chats}
    ids = list(conversations.values())

    def assignments_settled() -> bool:
        rows = fleet.query(
            "SELECT count(*) FROM chats_conversation WHERE id = ANY(%s)"
            " AND assignee_id IS NOT NULL",
            [ids],
        )
        return rows[0][0] == len(ids)

    fleet.wait(assignments_settled, 60, "every burst conversation to be assigned")
    per_conversation = fleet.query(
        "SELECT conversation_id, count(*) FROM chats_conversationevent"
        " WHERE type = 'assigned' AND conversation_id = ANY(%s) GROUP BY 1",
        [ids],
    )
    assert sorted(n for _, n in per_conversation) == [1] * len(ids), per_conversation

    # and: an operator answers each, half through each web process
    replies = {(chat, f"fleet reply {chat}") for chat in chats}
    for n, (chat, body) in enumerate(sorted(replies)):
        answer = fleet.reply(fleet.web(n % 2), "admin", conversations[chat], body)
        assert answer.status_code == 201, answer.text

    def delivered() -> bool:
        ours = {k: v for k, v in fleet.bot.sent().items() if k[1].startswith("fleet reply")}
        return set(ours) == replies

    fleet.wait(delivered, 60, "every reply delivered")
    sent = {k: v for k, v in fleet.bot.sent().items() if k[1].startswith("fleet reply")}
    assert {k: v for k, v in sent.items() if v > 1} == {}, sent

    # then: either web process reports the fleet's counts, equal to the database's
    def matches(web: str) -> bool:
        text = fleet.metrics(web)
        assigned = fleet.query(
            "SELECT count(*) FROM chats_conversationevent WHERE type = 'assigned'"
        )[0][0]
        sent_rows = fleet.query(
            "SELECT count(*) FROM chats_message"
            " WHERE kind = 'outbound' AND delivery_status = 'sent'"
        )[0][0]
        deliveries = metric(
            text,
            "smartdesk_celery_tasks_total",
            task="chats.channels.tasks.deliver_reply",
            outcome="SUCCESS",
        )
        return metric(text, "smartdesk_assignments_total") == assigned and deliveries == sent_rows

    for web in (fleet.web(0), fleet.web(1), fleet.workers[0].base_url):
        fleet.wait(lambda w=web: matches(w), 30, f"{web}/metrics to match the database")
    text = fleet.metrics(fleet.web(0))
    assert metric(text, "smartdesk_celery_tasks_total", task="chats.tasks.assign_conversation") > 0
    # the queue gauges are read from the database at scrape time, beside the process files
    families = {family.name for family in text_string_to_metric_families(text)}
    assert {"smartdesk_queue_length", "smartdesk_queue_oldest_wait_seconds"} <= families


def test_the_socket_gauge_comes_back_to_zero_when_sockets_close_or_their_process_dies(
    fleet: Stack, live: LiveLoop
) -> None:
    gauge = "smartdesk_websocket_connections"
    extra = fleet.start_web()
    cookies = fleet.login(fleet.web(0), "anna")

    # given: sockets on both web processes and on a third one
    clients = [
        live.connect(base, cookies, name=f"anna@{n}")
        for n, base in enumerate(
            (fleet.web(0), fleet.web(1), fleet.web(1), extra.base_url, extra.base_url)
        )
    ]
    for web in (fleet.web(0), fleet.web(1)):
        fleet.wait(lambda w=web: metric(fleet.metrics(w), gauge) == 5, 20, f"{web}: 5 sockets")

    # when: the third process is killed with its sockets open, and the others close cleanly
    extra.kill9()
    fleet.wait(lambda: metric(fleet.metrics(fleet.web(0)), gauge) == 3, 20, "3 sockets left")
    for client in clients[:3]:
        live.run(client.close())

    # then: every web process reports no socket open
    for web in (fleet.web(0), fleet.web(1)):
        fleet.wait(lambda w=web: metric(fleet.metrics(w), gauge) == 0, 20, f"{web}: 0 sockets")
