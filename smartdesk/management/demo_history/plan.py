# ruff: noqa: S311
# (demo traffic, not secrets: a seeded, reproducible generator on purpose)
"""The plan of a day: pure, from the seed and the date (the same plan for the same seed and
date), so a second run recognises what the first one made."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from customers.demo import MENU
from smartdesk.management.demo_history.traffic import (
    CALLS_PER_DAY,
    CHATS_PER_DAY,
    CUSTOMERS,
    FOLLOW_UPS,
    HOUR_WEIGHTS,
    INCIDENT_DAYS_BACK,
    ORDERS_PER_DAY,
    PREFIX,
    TEXTS,
    TZ,
    WEEKDAY_WEIGHTS,
)


@dataclass(frozen=True)
class ChatPlan:
    key: str  # the external id of the first message; unique per date and seed
    arrived: datetime
    inbox: str  # demo inbox name
    customer: int  # index into the customer pool
    kind: str  # a TEXTS key
    text: str
    first_response: float  # seconds
    reply: str
    follow_up: str  # "" when the customer does not write again
    handle: float  # seconds from arrival to the close
    rating: int | None
    incident: bool = False


@dataclass(frozen=True)
class CallPlan:
    linkedid: str
    started: datetime
    customer: int
    hold: int
    talk: int | None  # None: abandoned


@dataclass(frozen=True)
class OrderPlan:
    external_id: str
    placed: datetime
    customer: int
    items: tuple[tuple[str, int], ...]  # (sku, quantity)
    channel: str


@dataclass(frozen=True)
class DayPlan:
    day: date
    chats: list[ChatPlan] = field(default_factory=list)
    calls: list[CallPlan] = field(default_factory=list)
    orders: list[OrderPlan] = field(default_factory=list)

    @property
    def marker(self) -> str:
        """The day's last item (its last order, upserted after everything else): when it is
        stored, the day was played to the end."""
        return self.orders[-1].external_id if self.orders else ""


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method: the means here are small.
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _moments(rng: random.Random, day: date, per_day: float, factor: float = 1.0) -> list[datetime]:
    """Arrival times over a local day, by the hour and weekday weights."""
    unit = per_day / sum(HOUR_WEIGHTS) * WEEKDAY_WEIGHTS[day.weekday()] * factor
    moments = []
    for hour in range(24):
        for _ in range(_poisson(rng, HOUR_WEIGHTS[hour] * unit)):
            local = datetime.combine(day, time(hour), tzinfo=TZ) + timedelta(
                seconds=rng.uniform(0, 3599)
            )
            moments.append(local.astimezone(UTC))
    return sorted(moments)


def _first_response(rng: random.Random, local_hour: int) -> float:
    """Seconds to the first answer: mostly within the minute, slower at the peaks."""
    busy = HOUR_WEIGHTS[local_hour] / max(HOUR_WEIGHTS)
    return min(rng.lognormvariate(math.log(18 + 45 * busy), 0.6), 1800.0)


def day_plan(day: date, *, seed: int, days_back: int) -> DayPlan:
    """What happens on `day` (local), the same for the same seed and date."""
    rng = random.Random(f"{seed}:{day.isoformat()}")
    plan = DayPlan(day=day)
    stamp = day.isoformat()
    incident = days_back in INCIDENT_DAYS_BACK
    kinds = ["where", "menu", "account", "complaint"]
    for n, moment in enumerate(_moments(rng, day, CHATS_PER_DAY)):
        local_hour = moment.astimezone(TZ).hour
        kind = rng.choices(kinds, weights=[40, 30, 22, 8])[0]
        plan.chats.append(_chat(rng, f"{PREFIX}-{stamp}-c{n}", moment, kind, local_hour, False))
    if incident:
        # An incident: cold food and late couriers for a few evening hours.
        start = datetime.combine(day, time(17), tzinfo=TZ).astimezone(UTC)
        for n in range(10 + rng.randint(0, 4)):
            moment = start + timedelta(seconds=rng.uniform(0, 4 * 3600))
            plan.chats.append(
                _chat(rng, f"{PREFIX}-{stamp}-i{n}", moment, "complaint", moment.hour, True)
            )
        plan.chats.sort(key=lambda c: c.arrived)
    for n, moment in enumerate(_moments(rng, day, CALLS_PER_DAY)):
        abandoned = rng.random() < 0.08
        plan.calls.append(
            CallPlan(
                linkedid=f"{PREFIX}-{stamp}-k{n}",
                started=moment,
                customer=rng.randrange(CUSTOMERS),
                hold=int(min(rng.lognormvariate(math.log(10 if not abandoned else 45), 0.6), 300)),
                talk=None if abandoned else int(rng.uniform(45, 420)),
            )
        )
    skus = list(MENU)
    for n, moment in enumerate(_moments(rng, day, ORDERS_PER_DAY)):
        basket = rng.sample(skus, rng.randint(1, 3))
        plan.orders.append(
            OrderPlan(
                external_id=f"{PREFIX}-{stamp}-o{n}",
                placed=moment,
                customer=rng.randrange(CUSTOMERS),
                items=tuple((sku, rng.choice([1, 1, 2])) for sku in basket),
                channel=rng.choice(["app", "web"]),
            )
        )
    return plan


def _chat(
    rng: random.Random, key: str, moment: datetime, kind: str, local_hour: int, incident: bool
) -> ChatPlan:
    texts, replies = TEXTS[kind]
    complaint = kind == "complaint"
    inbox = "Partner API" if complaint and rng.random() < 0.3 else None
    if inbox is None:
        inbox = rng.choices(["Website chat", "Courier app"], weights=[60, 40])[0]
    first = _first_response(rng, local_hour) * (2.5 if incident else 1.0)
    rated = rng.random() < (0.55 if complaint else 0.45)
    if complaint:
        rating = rng.choices([1, 2, 3, 4, 5], weights=[30, 30, 20, 12, 8])[0]
    else:
        rating = rng.choices([1, 2, 3, 4, 5], weights=[2, 3, 8, 27, 60])[0]
    return ChatPlan(
        key=key,
        arrived=moment,
        inbox=inbox,
        customer=rng.randrange(CUSTOMERS),
        kind=kind,
        text=rng.choice(texts),
        first_response=first,
        reply=rng.choice(replies),
        follow_up=rng.choice(FOLLOW_UPS) if rng.random() < 0.3 else "",
        # Open until the customer is done: minutes, or hours when they go quiet.
        handle=first
        + min(rng.lognormvariate(math.log(1500 if not complaint else 3600), 0.9), 6 * 3600.0),
        rating=rating if rated else None,
        incident=incident,
    )
