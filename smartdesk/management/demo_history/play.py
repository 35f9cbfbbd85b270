# ruff: noqa: S311
# (demo traffic, not secrets: a seeded, reproducible generator on purpose)
"""Making a day's plan happen through the services: the demo world (inboxes, operators, the
customer pool, the PBX), then each chat, call and the day's orders at their moments."""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import F

from accounts.models import OperatorProfile, Team, User
from accounts.services import operator_busy_set
from analytics.csat import csat_submit
from analytics.kpis import HOUR
from analytics.models import CsatResponse
from chats.models import Inbox
from chats.services import conversations as conversation_services
from chats.services import messages as message_services
from customers.demo import MENU
from customers.models import Customer
from customers.orders import customer_upsert, orders_upsert
from customers.serializers import BulkOrderSerializer
from smartdesk.management.demo_history.plan import CallPlan, ChatPlan, OrderPlan
from smartdesk.management.demo_history.replay import clock
from smartdesk.management.demo_history.traffic import (
    CUSTOMERS,
    FIRST_NAMES,
    LAST_NAMES,
    PREFIX,
    SHIFTS,
    TZ,
)
from telephony.demo import _queue_call_events
from telephony.models import Call, Pbx
from telephony.services import call_event_apply, call_wrapup_release, operator_for


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
