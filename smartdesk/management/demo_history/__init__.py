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

- `traffic.py`: the shape of the traffic (weights, volumes, shifts, names, texts);
- `plan.py`: a day's plan, pure, from the seed and the date;
- `replay.py`: the clock set to a past moment, and what is switched off while replaying;
- `play.py`: the demo world, and each chat, call and the day's orders played through the
  services;
- `presence.py`: the operators' presence minutes for the replayed shifts;
- `seed.py`: `seed_history`, the days played in order, then the roll-ups rebuilt.
"""

from smartdesk.management.demo_history.plan import (
    CallPlan,
    ChatPlan,
    DayPlan,
    OrderPlan,
    day_plan,
)
from smartdesk.management.demo_history.replay import clock
from smartdesk.management.demo_history.seed import seed_history
from smartdesk.management.demo_history.traffic import INCIDENT_DAYS_BACK, PREFIX, TZ

__all__ = [
    "INCIDENT_DAYS_BACK",
    "PREFIX",
    "TZ",
    "CallPlan",
    "ChatPlan",
    "DayPlan",
    "OrderPlan",
    "clock",
    "day_plan",
    "seed_history",
]
