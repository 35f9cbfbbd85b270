"""`seed_demo --history DAYS`: past traffic through the services, so that every chart has
something true to show on first run; idempotent; the same seed gives the same history."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db.models import Count, F
from django.test import override_settings
from django.utils import timezone

from analytics import selectors
from analytics.heatmap import heatmap, staffing
from analytics.models import CsatResponse, HourlyPresence
from chats.models import Conversation, ConversationEvent, Message
from customers.models import LoyaltyTransaction, Order
from smartdesk.management import demo_history
from telephony.models import Call

pytestmark = pytest.mark.django_db

MOSCOW = ZoneInfo("Europe/Moscow")


def _counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (
            Conversation,
            Message,
            ConversationEvent,
            CsatResponse,
            Call,
            Order,
            LoyaltyTransaction,
            HourlyPresence,
        )
    }


def _history_filters(days: int) -> selectors.Filters:
    today = timezone.now().astimezone(MOSCOW).date()
    start, end = selectors.local_day_bounds(
        today - timedelta(days=days), today - timedelta(days=1), MOSCOW
    )
    return selectors.Filters(start=start, end=end, tz=MOSCOW)


def test_the_same_seed_plans_the_same_day_and_another_seed_another() -> None:
    day = date(2026, 3, 6)  # a Friday
    first = demo_history.day_plan(day, seed=7, days_back=3)
    again = demo_history.day_plan(day, seed=7, days_back=3)
    other = demo_history.day_plan(day, seed=8, days_back=3)
    assert first == again
    assert first != other
    assert first.chats and first.calls and first.orders
    # every moment lies in that local day, and every id names the day
    for item in [*first.chats, *first.orders]:
        moment = item.arrived if hasattr(item, "arrived") else item.placed
        assert moment.astimezone(MOSCOW).date() == day
    assert all(c.key.startswith("hist-2026-03-06-") for c in first.chats)


def test_a_day_with_an_incident_brings_a_burst_of_complaints() -> None:
    quiet = demo_history.day_plan(date(2026, 3, 6), seed=0, days_back=3)
    incident = demo_history.day_plan(
        date(2026, 3, 6), seed=0, days_back=demo_history.INCIDENT_DAYS_BACK[0]
    )
    complaints = [c for c in incident.chats if c.kind == "complaint"]
    assert len(complaints) >= len([c for c in quiet.chats if c.kind == "complaint"]) + 10


def test_replayed_rows_agree_with_the_plan_and_with_each_other() -> None:
    call_command("seed_demo", "--force", stdout=io.StringIO())
    from accounts.models import OperatorProfile

    present = set(OperatorProfile.objects.values_list("user_id", "load", "busy_load", "presence"))
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    demo_history.seed_history(days=2, seed=3, now=now)

    plans = [
        demo_history.day_plan(date(2026, 3, 10) - timedelta(days=back), seed=3, days_back=back)
        for back in (1, 2)
    ]
    chats = [c for plan in plans for c in plan.chats]
    first_messages = {
        m.external_id: m
        for m in Message.objects.filter(external_id__in=[c.key for c in chats]).select_related(
            "conversation"
        )
    }
    assert len(first_messages) == len(chats)
    for chat in chats:
        message = first_messages[chat.key]
        # each customer message was stored at the moment the plan says it was written
        assert message.created_at == chat.arrived
        assert message.conversation.created_at <= chat.arrived
        assert message.conversation.status == Conversation.Status.CLOSED
    # conversations: answered after they arrived, closed after they were answered
    replayed = Conversation.objects.filter(messages__external_id__in=list(first_messages))
    assert not replayed.filter(first_response_at__lt=F("created_at")).exists()
    assert not replayed.filter(closed_at__lt=F("first_response_at")).exists()
    # CSAT: asked at the close, answered after it
    answered = CsatResponse.objects.filter(rating__isnull=False)
    assert answered.exists()
    assert not answered.filter(answered_at__lt=F("requested_at")).exists()
    assert not answered.filter(requested_at__lt=F("conversation__closed_at")).exists()
    # calls at their planned moments, orders with their loyalty points
    planned_calls = {c.linkedid: c for plan in plans for c in plan.calls}
    for call in Call.objects.filter(linkedid__in=list(planned_calls)):
        assert call.started_at == planned_calls[call.linkedid].started.replace(microsecond=0) or (
            abs((call.started_at - planned_calls[call.linkedid].started).total_seconds()) < 1
        )
        assert call.state in (Call.State.COMPLETED, Call.State.ABANDONED)
    assert Call.objects.filter(linkedid__in=list(planned_calls)).count() == len(planned_calls)
    orders = Order.objects.filter(external_id__startswith="hist-")
    assert orders.count() == sum(len(p.orders) for p in plans)
    assert LoyaltyTransaction.objects.filter(order__in=orders).exists()
    # the past leaves the present as it was: nobody more loaded, busy or present than before
    after = set(OperatorProfile.objects.values_list("user_id", "load", "busy_load", "presence"))
    assert after == present


@override_settings(DEBUG=True)
def test_thirty_days_fill_the_charts_and_a_second_run_adds_nothing() -> None:
    out = io.StringIO()
    call_command("seed_demo", "--history", "30", stdout=out)
    assert "History: 30 days (30 new" in out.getvalue()
    first = _counts()

    filters = _history_filters(30)
    cells = heatmap(filters)  # concurrent chats, the dashboard's default
    assert sum(1 for row in cells for c in row if c.avg > 0) >= 100
    assert sum(1 for row in heatmap(filters, metric="calls") for c in row if c.avg > 0) > 20
    assert len(selectors.trend(filters)) == 30  # one point per day
    plan = staffing(filters)
    assert sum(1 for c in plan["cells"] if c.needed) > 50
    assert sum(1 for c in plan["cells"] if c.online) > 100
    operators = selectors.operator_table(filters)
    handled = [r for r in operators if r.handled]
    assert len(handled) >= 3
    assert all(r.occupancy and r.online_hours for r in handled)  # busy while online, only
    # a complaint incident stands out: a day with several times the usual complaints
    per_day = sorted(
        Conversation.objects.filter(team__name="Complaints")
        .values("created_at__date")
        .annotate(n=Count("pk"))
        .values_list("n", flat=True)
    )
    assert per_day[-1] >= 8 and per_day[-1] >= 3 * per_day[len(per_day) // 2]

    again = io.StringIO()
    call_command("seed_demo", "--history", "30", stdout=again)
    assert "(0 new" in again.getvalue()
    assert _counts() == first
