"""Several distribution passes at once against PostgreSQL (docs/distribution.md).

Four forked processes run `distribute_queue()` together over 2,000 waiting conversations and
100 online operators, each process on its own connection, so the row locks, SKIP LOCKED and
the conditional load UPDATE are really contended. Afterwards: no operator is over capacity,
every stored load equals a recount, no conversation was claimed twice, the passes' counts add
up, and every slot that could be filled is filled.
"""

from __future__ import annotations

import multiprocessing
import random
import traceback
import warnings
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.db import connections
from django.db.models import Min, Sum
from django.utils import timezone

from accounts.models import OperatorProfile, User
from chats.models import Conversation, ConversationEvent
from chats.selectors import waiting_q
from customers.models import Customer
from tests import factories

WORKERS = 4
CONVERSATIONS = 2_000
OPERATORS = 100
START_TIMEOUT = 60  # seconds the barrier waits for all workers to connect
RUN_TIMEOUT = 300  # seconds a worker may take; a hang fails the test instead of blocking it

Priority = Conversation.Priority


@dataclass(frozen=True)
class Scenario:
    capacities: tuple[int, int]  # each operator's capacity drawn from this range
    heavy_share: float  # share of conversations that weigh 2 (a heavier channel)
    fits: bool  # whether the total capacity takes every conversation


SCENARIOS = {
    # ~1,500 slots for ~2,200 of weight: every operator ends full, the rest waits.
    "more-work-than-room": Scenario(capacities=(5, 25), heavy_share=0.1, fits=False),
    # ~2,750 slots for ~2,100 of weight: everything is placed.
    "more-room-than-work": Scenario(capacities=(20, 35), heavy_share=0.05, fits=True),
}


# --- data ---------------------------------------------------------------------------------------


def build(scenario: Scenario, seed: int) -> list[User]:
    rng = random.Random(seed)
    team = factories.make_team("Concurrency")
    inbox = factories.make_inbox(name="Load test", team=team)
    operators = [factories.make_user(teams=[team]) for _ in range(OPERATORS)]
    profiles = list(OperatorProfile.objects.filter(user__in=operators).order_by("user_id"))
    for profile in profiles:
        capacity = rng.randint(*scenario.capacities)
        profile.max_concurrent_conversations = capacity
        profile.capacity = capacity
        profile.presence = OperatorProfile.Presence.ONLINE
        # Some have never had a conversation, the others some time ago: round robin has
        # real ties and real history to break them with.
        profile.last_assigned_at = (
            None if rng.random() < 0.3 else timezone.now() - timedelta(seconds=rng.randint(1, 3600))
        )
    OperatorProfile.objects.bulk_update(
        profiles, ["max_concurrent_conversations", "capacity", "presence", "last_assigned_at"]
    )

    customers = Customer.objects.bulk_create(
        Customer(first_name=f"Customer {n}", language="ru") for n in range(CONVERSATIONS)
    )
    now = timezone.now()
    conversations = []
    for customer in customers:
        roll = rng.random()
        priority = (
            Priority.URGENT if roll < 0.02 else Priority.HIGH if roll < 0.1 else Priority.NORMAL
        )
        queued_at = now - timedelta(seconds=rng.randint(1, 3600))
        conversations.append(
            Conversation(
                customer=customer,
                inbox=inbox,
                team=team,
                status=Conversation.Status.OPEN,
                priority=priority,
                load_weight=2 if rng.random() < scenario.heavy_share else 1,
                queued_at=queued_at,
                waiting_since=queued_at,
                last_message_at=queued_at,
                last_message_preview="Where is my order?",
                unread_count=1,
            )
        )
    Conversation.objects.bulk_create(conversations)
    return operators


# --- the workers --------------------------------------------------------------------------------


def _work(index: int, start: Any, results: Any) -> None:
    """One forked pass: its own connection, then `distribute_queue()` with the others."""
    placed, error = 0, ""
    try:
        connections.close_all()  # nothing inherited from the parent is used
        connections["default"].ensure_connection()
        start.wait()
        from chats.services.distribution import distribute_queue

        placed = distribute_queue()
    except BaseException:  # reported to the parent, which fails the test with it
        error = traceback.format_exc()[-4000:]
    finally:
        try:
            connections.close_all()
        finally:
            results.put((index, placed, error))


def run_workers(count: int) -> list[int]:
    """Start `count` passes at once; their placement counts, in start order."""
    context = multiprocessing.get_context("fork")
    start = context.Barrier(count, timeout=START_TIMEOUT)
    results = context.SimpleQueue()  # written straight to the pipe: nothing lost on exit
    connections.close_all()  # the children must not share the parent's socket
    processes = [context.Process(target=_work, args=(n, start, results)) for n in range(count)]
    with warnings.catch_warnings():
        # pytest-xdist's worker has an IO thread; the children touch nothing it holds.
        warnings.filterwarnings("ignore", "This process .* is multi-threaded", DeprecationWarning)
        for process in processes:
            process.start()
    for process in processes:
        process.join(RUN_TIMEOUT)
    hung = [p.pid for p in processes if p.is_alive()]
    for process in processes:
        if process.is_alive():
            process.kill()
            process.join()
    assert not hung, f"workers {hung} did not finish within {RUN_TIMEOUT}s"
    reported = {}
    while not results.empty():
        index, placed, error = results.get()
        assert not error, f"worker {index} failed:\n{error}"
        reported[index] = placed
    assert sorted(reported) == list(range(count)), [p.exitcode for p in processes]
    assert all(p.exitcode == 0 for p in processes), [p.exitcode for p in processes]
    return [reported[n] for n in range(count)]


# --- the test -----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_four_processes_share_the_queue_without_double_assigning_or_overfilling(name, settings):
    # Live events are still written and stamped at commit in the database; only their fan-out
    # stays in the process (through Redis it costs a connection per group and event and
    # would triple the run time without touching what is under test here).
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    scenario = SCENARIOS[name]
    operators = build(scenario, seed=4)
    total_capacity = sum(OperatorProfile.objects.values_list("capacity", flat=True))
    total_weight = Conversation.objects.aggregate(w=Sum("load_weight"))["w"]
    if scenario.fits:
        # Even if every operator wasted one slot that only a weight-2 conversation could not use.
        assert total_capacity - OPERATORS >= total_weight, (total_capacity, total_weight)
    else:
        assert total_capacity < CONVERSATIONS, total_capacity

    counts = run_workers(WORKERS)

    profiles = list(OperatorProfile.objects.filter(user__in=operators))
    assigned = Conversation.objects.filter(assignee__isnull=False)
    waiting = Conversation.objects.filter(waiting_q())

    # Nobody is over capacity, and no overload was recorded (nothing was forced).
    over = [(p.user_id, p.load, p.capacity) for p in profiles if p.load > p.capacity]
    assert not over
    assert all(p.overload == 0 for p in profiles)

    # Every stored load is the sum of the weights of that operator's open conversations.
    recount = dict(
        Conversation.objects.filter(
            assignee__isnull=False, status=Conversation.Status.OPEN, deleted_at__isnull=True
        )
        .values("assignee")
        .annotate(total=Sum("load_weight"))
        .values_list("assignee", "total")
    )
    off = [
        (p.user_id, p.load, recount.get(p.user_id, 0))
        for p in profiles
        if p.load != recount.get(p.user_id, 0)
    ]
    assert not off

    # Each conversation was claimed once: one assignment event per assigned conversation,
    # none for the rest, and the passes' own counts add up to the same number.
    events = ConversationEvent.objects.filter(type=ConversationEvent.Type.ASSIGNED)
    assert events.count() == assigned.count()
    assert events.values("conversation").distinct().count() == assigned.count()
    assert not events.filter(conversation__assignee__isnull=True).exists()
    assert sum(counts) == assigned.count()
    assert assigned.count() + waiting.count() == CONVERSATIONS
    assert all(c.assigned_at is not None for c in assigned.only("assigned_at"))
    assert not assigned.exclude(assignee__in=operators).exists()
    # More than one pass did real work (they shared the queue rather than queueing behind one).
    assert sum(1 for n in counts if n) >= 2, counts

    # Every slot that can be filled is filled.
    if scenario.fits:
        assert waiting.count() == 0
    else:
        smallest = waiting.aggregate(w=Min("load_weight"))["w"]
        assert smallest is not None
        room = {p.user_id: p.capacity - p.load for p in profiles}
        assert all(r < smallest for r in room.values()), {
            u: r for u, r in room.items() if r >= smallest
        }
    # Urgent conversations head the queue, so none of them is left waiting.
    assert not waiting.filter(priority=Priority.URGENT).exists()
