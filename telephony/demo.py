"""Demo telephony: a PBX (inactive until someone points it at a real Asterisk), routing rules,
and a few past calls in the demo customers' history. Idempotent: the calls are replays of
fixed AMI events, and a replay changes nothing."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from accounts.models import OperatorProfile
from customers.models import Identity
from telephony.models import Pbx, RouteRule
from telephony.services import call_event_apply, route_rule_save


def _queue_call_events(
    linkedid: str, caller: str, agent: str, queue: str, t0: float, hold: int, talk: int | None
) -> list[dict[str, str]]:
    base = {
        "Channel": "PJSIP/trunk-demo",
        "CallerIDNum": caller,
        "CallerIDName": "<unknown>",
        "Exten": "74951234567",
        "Uniqueid": linkedid,
        "Linkedid": linkedid,
    }
    agent_fields = {"Queue": queue, "Interface": agent, "DestChannel": f"{agent}-demo"}
    events = [
        {"Event": "Newchannel", **base, "ChannelState": "0", "Timestamp": f"{t0}"},
        {"Event": "QueueCallerJoin", **base, "Queue": queue, "Timestamp": f"{t0 + 2}"},
    ]
    if talk is None:
        events.append(
            {
                "Event": "QueueCallerAbandon",
                **base,
                "Queue": queue,
                "HoldTime": str(hold),
                "Timestamp": f"{t0 + 2 + hold}",
            }
        )
    else:
        answered = t0 + 2 + hold
        events += [
            {
                "Event": "AgentConnect",
                **base,
                **agent_fields,
                "HoldTime": str(hold),
                "Timestamp": f"{answered}",
            },
            {
                "Event": "AgentComplete",
                **base,
                **agent_fields,
                "HoldTime": str(hold),
                "TalkTime": str(talk),
                "Timestamp": f"{answered + talk}",
            },
        ]
    events.append({"Event": "Hangup", **base, "Timestamp": f"{events[-1]['Timestamp']}"})
    return events


def seed_telephony_demo() -> None:
    pbx, _ = Pbx.objects.get_or_create(
        name="Demo PBX",
        defaults={
            "host": "127.0.0.1",
            "port": 5038,
            "username": "smartdesk",
            "secret": "change-me",
            "is_active": False,
        },
    )
    if not RouteRule.objects.exists():
        route_rule_save(
            rule=RouteRule(
                position=10, kind=RouteRule.Kind.OPEN_TOPIC, value="complaint", queue="complaints"
            ),
            actor=None,
        )
        route_rule_save(
            rule=RouteRule(position=20, kind=RouteRule.Kind.LANGUAGE, value="en", queue="english"),
            actor=None,
        )
    agents = list(
        OperatorProfile.objects.exclude(phone_extension="")
        .order_by("phone_extension")
        .values_list("phone_extension", flat=True)[:2]
    )
    if not agents:
        return
    phones = list(
        Identity.objects.filter(kind=Identity.Kind.PHONE)
        # the demo conversations' customers, not the regulars of `seed_demo --history`
        .exclude(customer__external_id__startswith="hist-")
        .order_by("pk")
        .values_list("value", flat=True)[:3]
    )
    # A fixed day in the past, so that the linked ids (and so the replays) stay the same.
    day = (timezone.now() - timedelta(days=2)).replace(hour=10, minute=0, second=0, microsecond=0)
    t0 = day.timestamp()
    for n, phone in enumerate(phones):
        for k, (hold, talk) in enumerate([(14, 180), (40, None)][: 2 if n == 0 else 1]):
            linkedid = f"demo-{phone.lstrip('+')}-{k}"
            for fields in _queue_call_events(
                linkedid,
                phone,
                agents[(n + k) % len(agents)],
                "support",
                t0 + 3600 * (n + k),
                hold,
                talk,
            ):
                call_event_apply(pbx_id=pbx.pk, fields=fields)
