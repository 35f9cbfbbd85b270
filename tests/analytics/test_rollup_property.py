"""Property: KPIs read from the roll-ups equal KPIs computed straight from the raw records,
for random conversations (arrivals, replies, snoozes, closes, reopens, CSAT) and any
grouping."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics import rollups, selectors
from analytics.kpis import ChatTotals, Event, conversation_fact, hour_floor
from analytics.models import ConversationFact, CsatResponse, HourlyActivity, HourlyChat
from chats.models import Conversation, ConversationEvent
from tests import factories

pytestmark = pytest.mark.django_db

BASE = datetime(2026, 4, 6, tzinfo=UTC)
NOW = BASE + timedelta(days=4)

timeline = st.fixed_dictionaries(
    {
        "arrive": st.integers(0, 3 * 86400),
        "team": st.integers(0, 1),
        "operator": st.integers(0, 2),
        "inbox": st.integers(0, 1),
        "reply_after": st.one_of(st.none(), st.integers(1, 4000)),
        "snooze": st.one_of(st.none(), st.tuples(st.integers(0, 600), st.integers(1, 5000))),
        "close_after": st.one_of(st.none(), st.integers(1, 20000)),
        "reopen": st.booleans(),
        "rating": st.one_of(st.none(), st.integers(1, 5)),
    }
)


def _raw_expected(convs: list[Conversation], sl: int) -> dict:
    """Group raw figures by (team, first responder) for arrivals, by (team, assignee) for
    closes, computed with nothing but the records and the KPI definitions."""
    expected: dict = defaultdict(ChatTotals)
    for c in convs:
        events = [Event(e.type, e.at, e.data) for e in c.events.all()]
        closed_at = c.closed_at if c.status == "closed" else None
        fact = conversation_fact(
            created_at=c.created_at,
            first_response_at=c.first_response_at,
            closed_at=closed_at,
            events=events,
            now=NOW,
            sl_seconds=sl,
        )
        arrival = expected[(c.team_id, c.first_responder_id)]
        arrival.arrived += 1
        if fact.first_response_seconds is not None:
            arrival.answered += 1
            arrival.first_response_sum += fact.first_response_seconds
        arrival.sl_counted += fact.sl_counted
        arrival.sl_met += fact.sl_met
        if closed_at is not None:
            close = expected[(c.team_id, c.assignee_id)]
            close.closed += 1
            close.resolution_sum += fact.resolution_seconds or 0
            close.reopened += fact.reopen_count > 0
    return expected


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(timeline, min_size=1, max_size=12))
def test_rollups_equal_raw_kpis(stats_world, items) -> None:
    teams, operators, inboxes = stats_world
    for model in (CsatResponse, HourlyChat, HourlyActivity, ConversationFact):
        model.objects.all().delete()
    ConversationEvent.objects.filter(conversation__inbox__in=inboxes).delete()
    Conversation.objects.filter(inbox__in=inboxes).delete()
    convs = []
    for item in items:
        arrive = BASE + timedelta(seconds=item["arrive"])
        inbox = inboxes[item["inbox"]]
        operator = operators[item["operator"]]
        c = Conversation.objects.create(
            customer=factories.make_customer(),
            inbox=inbox,
            team=teams[item["team"]],
            assignee=operator,
            assigned_at=arrive,
        )
        events = []
        cursor = arrive
        if item["snooze"]:
            start, length = item["snooze"]
            s = arrive + timedelta(seconds=start)
            events.append(("snoozed", s, {"until": (s + timedelta(seconds=length)).isoformat()}))
        if item["reply_after"]:
            c.first_response_at = arrive + timedelta(seconds=item["reply_after"])
        if item["close_after"]:
            cursor = arrive + timedelta(seconds=item["close_after"])
            events.append(("closed", cursor, {}))
            c.status, c.closed_at = "closed", cursor
            if item["reopen"]:
                events.append(("reopened", cursor + timedelta(seconds=300), {}))
                events.append(("closed", cursor + timedelta(seconds=900), {}))
                c.closed_at = cursor + timedelta(seconds=900)
        c.created_at = arrive
        c.save()
        for type_, moment, data in events:
            e = ConversationEvent.objects.create(conversation=c, type=type_, data=data)
            ConversationEvent.objects.filter(pk=e.pk).update(at=moment)
        if item["rating"] and c.status == "closed":
            CsatResponse.objects.create(
                conversation=c,
                team_id=c.team_id,
                operator_id=c.assignee_id,
                channel=inbox.kind,
                requested_at=c.closed_at,
                rating=item["rating"],
                answered_at=c.closed_at + timedelta(minutes=3),
            )
        convs.append(c)
    Conversation.objects.filter(pk__in=[c.pk for c in convs]).update(updated_at=BASE)
    for c in convs:
        c.refresh_from_db()
        # The first responder is the author of the first reply message; these synthetic
        # conversations have a reply time but no message, so there is none.
        c.first_responder_id = None

    rollups.rollup_rebuild(now=NOW)

    expected = _raw_expected(convs, sl=60)
    period = selectors.Filters(start=BASE - timedelta(days=1), end=NOW + timedelta(days=1))
    got = defaultdict(ChatTotals)
    for row in HourlyChat.objects.all():
        got[(row.team_id, row.operator_id)].add(row)
    for key, totals in expected.items():
        want = totals.kpis()
        have = got[key].kpis()
        for name in ("volume", "answered", "service_level", "closed", "reopen_rate"):
            assert have[name] == want[name], (key, name)
        for name in ("first_response_avg", "resolution_avg"):
            assert have[name] == pytest.approx(want[name]), (key, name)
    # grand totals through the selector, and CSAT
    total = selectors.chat_totals(period).get(None, ChatTotals())
    ratings = list(CsatResponse.objects.values_list("rating", flat=True))
    assert total.arrived == len(convs)
    assert total.csat_count == len(ratings)
    assert total.csat_sum == sum(ratings)
    # concurrency: active seconds equal the facts' spans
    active = sum(HourlyActivity.objects.values_list("active_seconds", flat=True))
    spans = 0.0
    for f in ConversationFact.objects.all():
        for s, e in f.active_spans:
            end = datetime.fromisoformat(e) if e else NOW
            spans += (
                min(end, hour_floor(NOW) + timedelta(hours=1)) - datetime.fromisoformat(s)
            ).total_seconds()
    assert active == pytest.approx(spans)


@pytest.fixture
def stats_world(support, delivery):
    from chats.models import Inbox

    teams = [support, delivery]
    operators = [factories.make_user(teams=[support, delivery]) for _ in range(3)]
    inboxes = [
        factories.make_inbox(name="P-widget", kind=Inbox.Kind.WIDGET, team=support),
        factories.make_inbox(name="P-telegram", kind=Inbox.Kind.TELEGRAM, team=delivery),
    ]
    return teams, operators, inboxes
