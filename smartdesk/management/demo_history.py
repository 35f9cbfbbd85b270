# ruff: noqa: S311
# (demo traffic, not secrets: a seeded, reproducible generator on purpose)
"""`manage.py seed_demo --history DAYS`: weeks of believable traffic, made through the services.

Every conversation, reply, transfer, close, CSAT answer, call, order and loyalty accrual is
made by the same service a channel, an operator or the PBX would call, at the moment it
happened: the clock (`django.utils.timezone.now`, which the services, `auto_now` fields and
the audit trail read) is set to that moment while the service runs, so every row agrees
with every other (a reply after its message, the CSAT after the close, points after the
order). Celery tasks run inline meanwhile, so what they do happens at that moment too.

- chats arrive by weekday and hour (lunch and evening peaks, quiet nights, busier weekends)
  on the website chat, the courier app and the partner API; the operator on shift answers,
  some customers write again, the conversation is closed, about half rate it;
- calls reach the `support` queue the same way (AMI events replayed through
  `call_event_apply`), a few are abandoned;
- orders, with their loyalty points, for a pool of regular customers;
- two incidents: a day with a burst of complaints (cold food, a late courier), transferred to
  Complaints and rated low;
- operators' presence minutes for their shifts (what the per-minute sampler would have
  recorded: occupancy from the load they carried), then every roll-up rebuilt.

Deterministic: a day's traffic depends only on the seed and its date, and each item has an
external id made of them, so a second run adds nothing (a day whose last item exists is
skipped at once) and the next day's run adds only the new day.
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import F
from django.test.utils import override_settings
from django.utils import timezone

from accounts.models import OperatorProfile, Team, User
from accounts.services import operator_busy_set
from analytics import rollups
from analytics.csat import csat_submit
from analytics.kpis import HOUR, hour_floor
from analytics.models import ConversationFact, CsatResponse, HourlyPresence
from chats.models import Inbox
from chats.services import conversations as conversation_services
from chats.services import messages as message_services
from chats.signals import conversation_closed
from customers.demo import MENU
from customers.models import Customer, Order
from customers.orders import customer_upsert, orders_upsert
from customers.serializers import BulkOrderSerializer
from telephony.demo import _queue_call_events
from telephony.models import Call, Pbx
from telephony.services import call_event_apply, call_wrapup_release, operator_for

log = logging.getLogger(__name__)
TZ = ZoneInfo("Europe/Moscow")
PREFIX = "hist"

# Arrivals per local hour (relative), and per weekday (Monday first).
HOUR_WEIGHTS = [
    0.3, 0.2, 0.15, 0.12, 0.12, 0.15, 0.3, 0.6, 1.0, 1.4, 1.6, 1.8,
    2.2, 2.3, 1.9, 1.6, 1.6, 1.9, 2.3, 2.6, 2.4, 1.8, 1.1, 0.6,
]  # fmt: skip
WEEKDAY_WEIGHTS = [1.0, 0.95, 0.95, 1.0, 1.15, 1.3, 1.2]
CHATS_PER_DAY = 12
CALLS_PER_DAY = 5
ORDERS_PER_DAY = 20
CUSTOMERS = 120
INCIDENT_DAYS_BACK = (6, 19)  # a day with a burst of complaints, when inside the history

# Operators' shifts, local hours [start, end) (end may pass midnight: 24 = midnight).
SHIFTS: dict[str, tuple[int, int]] = {
    "grigory": (0, 9),
    "anna": (8, 17),
    "diana": (9, 18),
    "boris": (11, 20),
    "vera": (15, 24),
}

FIRST_NAMES = [
    "Alexander", "Maria", "Dmitry", "Elena", "Sergey", "Olga", "Andrey", "Natalia",
    "Mikhail", "Tatiana", "Ivan", "Anastasia", "Nikolai", "Irina", "Pavel", "Ekaterina",
    "Kirill", "Yulia", "Artem", "Daria", "Emma", "James", "Lucas", "Sophie",
]  # fmt: skip
LAST_NAMES = [
    "Ivanov", "Smirnov", "Kuznetsov", "Popov", "Vasiliev", "Petrov", "Sokolov", "Mikhailov",
    "Novikov", "Fedorov", "Morozov", "Volkov", "Alekseev", "Lebedev", "Semenov", "Egorov",
    "Brown", "Miller", "Garcia", "Martin",
]  # fmt: skip

# What customers write, what operators answer (kind -> (customer texts, replies)).
TEXTS: dict[str, tuple[list[str], list[str]]] = {
    "where": (
        [
            "Где мой заказ? Обещали час назад.",
            "Курьер опаздывает, подскажите, когда будет?",
            "Where is my order? It's been an hour.",
        ],
        [
            "Проверили: курьер будет у вас через 15 минут.",
            "Sorry for the wait: the courier is 10 minutes away.",
        ],
    ),
    "menu": (
        [
            "Есть ли у вас роллы без кунжута?",
            "Можно заменить соус в пицце?",
            "Do you have vegetarian options?",
            "Какие десерты без орехов?",
        ],
        [
            "Да, конечно: отметим это в заказе.",
            "Yes: the avocado roll and the margherita are vegetarian.",
            "Без орехов: моти с манго и чизкейк.",
        ],
    ),
    "account": (
        [
            "Не начислились баллы за последний заказ.",
            "Как поменять адрес доставки?",
            "How do I use my loyalty points?",
        ],
        [
            "Баллы начисляются через час после доставки: уже на счёте.",
            "Адрес меняется в профиле, в разделе «Адреса».",
            "At checkout, tick 'pay with points'.",
        ],
    ),
    "complaint": (
        [
            "Заказ пришёл холодным, хочу вернуть деньги.",
            "Привезли не тот заказ!",
            "The food arrived cold and an hour late.",
            "Курьер нагрубил, это недопустимо.",
        ],
        [
            "Простите, пожалуйста: вернём деньги за заказ в течение дня.",
            "We're very sorry: a full refund is on its way.",
            "Приносим извинения: передали жалобу руководителю службы доставки.",
        ],
    ),
}
FOLLOW_UPS = ["Спасибо!", "Thanks, that helps.", "Хорошо, жду.", "Понятно, спасибо."]


# --- the plan: pure, from the seed and the date -------------------------------------------------


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


# --- making it happen ---------------------------------------------------------------------------


@contextlib.contextmanager
def clock(moment: datetime) -> Iterator[None]:
    """Run a service as at `moment`: the services, `auto_now` fields and the audit trail read
    `timezone.now()`. A day is replayed in one transaction (one commit instead of one per
    action), so what a service does after its commit (tasks, CSAT surveys, deliveries) is
    collected and run right after the service returns, still at `moment`, each isolated as
    `smartdesk.oncommit` isolates them."""
    pending: list[Callable[[], Any]] = []

    def on_commit(func: Callable[[], Any], using: str | None = None, robust: bool = False) -> None:
        pending.append(func)

    with (
        mock.patch("django.utils.timezone.now", return_value=moment),
        mock.patch("django.db.transaction.on_commit", on_commit),
    ):
        yield
        while pending:
            func = pending.pop(0)
            try:
                with transaction.atomic():
                    func()
            except Exception:
                log.warning("demo history: an after-commit step failed", exc_info=True)


@contextlib.contextmanager
def _quiet_replay() -> Iterator[None]:
    """What only matters for people watching live is left out of the replay: nobody is
    connected to a past moment, so the live events are logged (the outbox rows) but not
    rung on the channel layer, and the message classifier (a model run per message, which
    would take most of the time) is not asked. On SQLite, commits are not synced to disk one
    by one (WAL with synchronous=NORMAL: a crash loses at most the last commits, which a
    second run adds again)."""
    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch("smartdesk.realtime.get_channel_layer", return_value=None))
        stack.enter_context(override_settings(AI_CLASSIFY_ENABLED=False))
        # The hand-over summary of each closed conversation (a model run per close) as well.
        stack.enter_context(_summaries_off())
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA synchronous=NORMAL")
        yield


@contextlib.contextmanager
def _summaries_off() -> Iterator[None]:
    from analytics.ai import handover

    conversation_closed.disconnect(dispatch_uid="ai-summary")
    try:
        yield
    finally:
        conversation_closed.connect(handover.on_conversation_closed, dispatch_uid="ai-summary")


@contextlib.contextmanager
def _tasks_inline() -> Iterator[None]:
    """Celery tasks run in this process while history is made, so that what they do (a CSAT
    survey after a close, a wrap-up release) happens at the moment being played."""
    from smartdesk.celery import app

    eager, propagates = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, False
    try:
        yield
    finally:
        app.conf.task_always_eager, app.conf.task_eager_propagates = eager, propagates


@contextlib.contextmanager
def _floor_offline() -> Iterator[None]:
    """While the past is replayed nobody is online now (supervisors included), so automatic
    distribution leaves each replayed conversation to the operator on shift then. The
    present presence is put back as it was afterwards (a snapshot restored, not a change of
    anyone's presence: no event, no distribution run)."""
    online = list(
        OperatorProfile.objects.exclude(presence=OperatorProfile.Presence.OFFLINE).values_list(
            "pk", "presence"
        )
    )
    OperatorProfile.objects.filter(pk__in=[pk for pk, _p in online]).update(
        presence=OperatorProfile.Presence.OFFLINE
    )
    try:
        yield
    finally:
        for pk, presence in online:
            OperatorProfile.objects.filter(pk=pk).update(presence=presence)


@dataclass
class World:
    inboxes: dict[str, Inbox]
    complaints: Team | None
    operators: dict[str, User]
    customers: list[Customer]
    pbx: Pbx | None
    extensions: dict[str, str]  # username -> PJSIP/101

    def on_shift(self, moment: datetime) -> list[str]:
        hour = moment.astimezone(TZ).hour
        return [name for name, (a, b) in SHIFTS.items() if a <= hour < b and name in self.operators]


def _phone(n: int) -> str:
    return f"+7916{(4000000 + n * 7919) % 10_000_000:07d}"


def _world() -> World:
    inboxes = {
        i.name: i
        for i in Inbox.objects.filter(name__in=["Website chat", "Courier app", "Partner API"])
    }
    operators = {u.username: u for u in User.objects.filter(username__in=list(SHIFTS))}
    rng = random.Random("customers")
    specs = []
    for n in range(CUSTOMERS):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        specs.append(
            {
                "external_id": f"{PREFIX}-customer-{n}",
                "first_name": first,
                "last_name": last,
                "emails": [f"{first.lower()}.{last.lower()}.{n}@demo.example"],
                "phones": [_phone(n)],
            }
        )
    known = set(
        Customer.objects.filter(external_id__in=[s["external_id"] for s in specs]).values_list(
            "external_id", flat=True
        )
    )
    for spec in specs:
        if spec["external_id"] not in known:
            customer_upsert(data=spec)
    by_ext = {
        c.external_id: c
        for c in Customer.objects.filter(external_id__in=[s["external_id"] for s in specs])
    }
    extensions = dict(
        OperatorProfile.objects.filter(user__username__in=list(SHIFTS))
        .exclude(phone_extension="")
        .values_list("user__username", "phone_extension")
    )
    return World(
        inboxes=inboxes,
        complaints=Team.objects.filter(name="Complaints").first(),
        operators=operators,
        customers=[by_ext[s["external_id"]] for s in specs],
        pbx=Pbx.objects.filter(name="Demo PBX").first(),
        extensions=extensions,
    )


def _handler(world: World, plan: ChatPlan, rng: random.Random) -> User:
    names = world.on_shift(plan.arrived + timedelta(seconds=plan.first_response))
    if plan.kind == "complaint":
        names = [n for n in names if n in ("grigory", "diana")] or names
    names = names or list(world.operators)
    # Whoever has room for one more conversation now (an operator on a call right now, or
    # full, cannot be given one, whatever the replayed moment).
    free = set(
        OperatorProfile.objects.filter(
            user__username__in=names, load__lt=F("capacity") + F("overload")
        ).values_list("user__username", flat=True)
    )
    choice = sorted(free) or sorted(names)
    return world.operators[rng.choice(choice)]


def _play_chat(world: World, plan: ChatPlan, rng: random.Random) -> bool:
    inbox = world.inboxes.get(plan.inbox)
    if inbox is None:
        return False
    customer = world.customers[plan.customer]
    t0 = plan.arrived
    with clock(t0):
        message, created = message_services.message_receive(
            inbox=inbox, customer=customer, body=plan.text, external_id=plan.key
        )
    if not created:
        return False
    conversation = message.conversation
    operator = _handler(world, plan, rng)
    answered = t0 + timedelta(seconds=plan.first_response)
    with clock(answered):
        message_services.message_reply(conversation=conversation, author=operator, body=plan.reply)
    if (
        plan.kind == "complaint"
        and world.complaints is not None
        and inbox.default_team_id != world.complaints.pk
    ):
        with clock(answered + timedelta(seconds=20)):
            conversation_services.conversation_transfer(
                conversation=conversation,
                actor=operator,
                reason="Complaint: over to the complaints team",
                team=world.complaints,
                operator=operator,
                topic="complaint",
            )
    closed = t0 + timedelta(seconds=plan.handle)
    if plan.follow_up:
        later = answered + (closed - answered) / 2
        with clock(later):
            message_services.message_receive(
                inbox=inbox, customer=customer, body=plan.follow_up, external_id=f"{plan.key}-f"
            )
        with clock(later + timedelta(seconds=rng.uniform(15, 90))):
            message_services.message_reply(
                conversation=conversation, author=operator, body="Рады помочь! / Glad to help!"
            )
    with clock(closed):
        conversation_services.conversation_close(conversation=conversation, actor=operator)
    if plan.rating is not None:
        survey = CsatResponse.objects.filter(conversation=conversation).first()
        if survey is not None and survey.rating is None:
            answered_at = closed + timedelta(seconds=rng.uniform(30, 900))
            with clock(answered_at):
                csat_submit(
                    survey_id=survey.pk,
                    customer_id=customer.pk,
                    rating=plan.rating,
                    inbox=inbox,
                    now=answered_at,
                )
    return True


def _play_call(world: World, plan: CallPlan) -> bool:
    if world.pbx is None or not world.extensions:
        return False
    names = [n for n in world.on_shift(plan.started) if n in world.extensions]
    names = names or sorted(world.extensions)
    agent = world.extensions[names[zlib.crc32(plan.linkedid.encode()) % len(names)]]
    events = _queue_call_events(
        plan.linkedid,
        _phone(plan.customer),
        agent,
        "support",
        plan.started.timestamp(),
        plan.hold,
        plan.talk,
    )
    operator_id = operator_for(agent)
    busy_now = (
        OperatorProfile.objects.filter(user_id=operator_id)
        .values_list("busy_load", flat=True)
        .first()
    )
    applied = False
    for fields in events:
        at = datetime.fromtimestamp(float(fields["Timestamp"]), tz=UTC)
        with clock(at):
            outcome = call_event_apply(pbx_id=world.pbx.pk, fields=fields, received_at=at)
        applied = applied or outcome == "applied"
    if applied and plan.talk is not None:
        call = Call.objects.filter(pbx=world.pbx, linkedid=plan.linkedid).first()
        if call is not None and call.wrapup_until is not None:
            with clock(call.wrapup_until):
                call_wrapup_release(call_id=call.pk, now=call.wrapup_until)
    if operator_id is not None and busy_now is not None:
        # The wrap-up release keeps the operator busy when another call of theirs is not
        # over at that moment, and from a past moment today's calls look not over yet: the
        # call of the past must leave the operator as busy as they are now, no more.
        operator_busy_set(user_id=operator_id, weight=busy_now)
    return applied


def _play_orders(world: World, plans: list[OrderPlan], day: date) -> None:
    rows = []
    for plan in plans:
        items = []
        for sku, quantity in plan.items:
            name, price, allergens = MENU[sku]
            items.append(
                {
                    "sku": sku,
                    "name": name,
                    "quantity": quantity,
                    "price": price,
                    "modifiers": [],
                    "allergens": allergens,
                }
            )
        total = sum(Decimal(i["price"]) * i["quantity"] for i in items)
        serializer = BulkOrderSerializer(
            data={
                "external_id": plan.external_id,
                "customer": {"external_id": world.customers[plan.customer].external_id},
                "placed_at": plan.placed.isoformat(),
                "status": "completed",
                "status_changed_at": (plan.placed + HOUR).isoformat(),
                "total": str(total),
                "currency": "EUR",
                "channel": plan.channel,
                "address": "Moscow, Tverskaya 7",
                "items": items,
            }
        )
        serializer.is_valid(raise_exception=True)
        rows.append((len(rows), serializer.validated_data))
    if rows:
        # The back office sends the day's orders at the end of the day.
        end = datetime.combine(day, time(23, 59), tzinfo=TZ).astimezone(UTC)
        with clock(end):
            orders_upsert(rows=rows, now=end)


def _presence(world: World, days: list[date]) -> int:
    """The presence minutes the sampler would have written for the operators' shifts: online
    for the shift, capacity offered, and the load they carried (their conversations' active
    time, capped at capacity). Replaces those hours' rows of these operators."""
    if not days:
        return 0
    capacity = dict(
        OperatorProfile.objects.filter(user__in=world.operators.values()).values_list(
            "user_id", "capacity"
        )
    )
    hours: dict[tuple[datetime, int], float] = {}
    for day in days:
        for name, (a, b) in SHIFTS.items():
            user = world.operators.get(name)
            if user is None:
                continue
            for h in range(a, b):
                local = datetime.combine(day, time(h % 24), tzinfo=TZ)
                hours[(local.astimezone(UTC), user.pk)] = 0.0
    start = min(h for h, _u in hours)
    end = max(h for h, _u in hours) + HOUR
    for operator_id, spans in ConversationFact.objects.filter(
        operator_id__in=[u.pk for u in world.operators.values()],
        arrived_at__gte=start - timedelta(days=1),
        arrived_at__lt=end,
    ).values_list("operator_id", "active_spans"):
        for s, e in spans:
            lo, hi = datetime.fromisoformat(s), datetime.fromisoformat(e) if e else end
            cursor = lo
            while cursor < hi:
                bucket = hour_floor(cursor)
                stop = min(bucket + HOUR, hi)
                key = (bucket, operator_id)
                if key in hours:
                    hours[key] += (stop - cursor).total_seconds()
                cursor = stop
    rows = []
    for (hour, operator_id), load in hours.items():
        slots = capacity.get(operator_id, 5) * 3600
        rows.append(
            HourlyPresence(
                hour=hour,
                operator_id=operator_id,
                online_seconds=3600,
                slot_seconds=slots,
                load_seconds=int(min(load, slots)),
            )
        )
    with transaction.atomic():
        HourlyPresence.objects.filter(
            hour__in={h for h, _u in hours}, operator_id__in={u for _h, u in hours}
        ).delete()
        HourlyPresence.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


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
