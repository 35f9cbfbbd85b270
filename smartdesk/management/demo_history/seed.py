# ruff: noqa: S311
# (demo traffic, not secrets: a seeded, reproducible generator on purpose)
"""`seed_history`: play the days before today (each day once), then rebuild the roll-ups."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, datetime, timedelta

from django.db import transaction
from django.utils import timezone

from analytics import rollups
from customers.models import Order
from smartdesk.management.demo_history.plan import day_plan
from smartdesk.management.demo_history.play import (
    _play_call,
    _play_chat,
    _play_orders,
    _world,
)
from smartdesk.management.demo_history.presence import _presence
from smartdesk.management.demo_history.replay import (
    _floor_offline,
    _quiet_replay,
    _tasks_inline,
)
from smartdesk.management.demo_history.traffic import TZ


def seed_history(
    *,
    days: int,
    seed: int = 0,
    now: datetime | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Play `days` local days of traffic before today (idempotent), then rebuild the roll-ups.
    Returns what was added."""
    now = now or timezone.now()
    today = now.astimezone(TZ).date()
    world = _world()
    done = {"days": 0, "conversations": 0, "calls": 0, "orders": 0}
    played: list[date] = []
    with _quiet_replay(), _tasks_inline(), _floor_offline():
        for back in range(days, 0, -1):
            day = today - timedelta(days=back)
            plan = day_plan(day, seed=seed, days_back=back)
            if plan.marker and Order.objects.filter(external_id=plan.marker).exists():
                continue  # played before: its last item (the day's last order) is there
            rng = random.Random(f"{seed}:{day.isoformat()}:play")
            with transaction.atomic():
                for chat in plan.chats:
                    done["conversations"] += _play_chat(world, chat, rng)
                for call in plan.calls:
                    done["calls"] += _play_call(world, call)
                _play_orders(world, plan.orders, day)
            done["orders"] += len(plan.orders)
            played.append(day)
            done["days"] += 1
            if progress:
                progress(f"{day.isoformat()}: {len(plan.chats)} chats, {len(plan.calls)} calls")
    if played:
        rollups.rollup_rebuild(now=now)
        done["presence_rows"] = _presence(world, played)
    return done
