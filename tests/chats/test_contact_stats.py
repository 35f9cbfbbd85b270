"""The side panel's contact statistics: conversations counted by chats, calls and CSAT added
by the sources telephony and analytics register (`chats.contact_stats`)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.contact_stats import customer_csat
from analytics.models import CsatResponse
from chats.contact_stats import _sources, contact_figures, register_contact_source
from chats.views.presenters import contact_stats
from telephony.contact_stats import customer_calls
from telephony.models import Call, Pbx
from tests import factories

pytestmark = pytest.mark.django_db


def test_telephony_and_analytics_register_their_sources_once() -> None:
    assert _sources.count(customer_calls) == 1
    assert _sources.count(customer_csat) == 1
    register_contact_source(customer_calls)  # a second `ready()` adds nothing
    assert _sources.count(customer_calls) == 1


def test_calls_and_csat_are_counted_in_four_queries(
    support_inbox, delivery_inbox, django_assert_num_queries
) -> None:
    customer = factories.make_customer("Svetlana", phone="+79120001122")
    conversation = factories.make_conversation(inbox=support_inbox, customer=customer)
    other = factories.make_conversation(inbox=delivery_inbox, customer=customer)
    pbx = Pbx.objects.create(name="Office PBX")
    later = timezone.now() + timedelta(days=1)
    for n in range(2):
        Call.objects.create(
            pbx=pbx, linkedid=f"call-{n}", customer=customer, started_at=later - timedelta(hours=n)
        )
    now = timezone.now()
    for survey, rating in ((conversation, 5), (other, 4)):
        CsatResponse.objects.create(
            conversation=survey, channel="api", requested_at=now, rating=rating, answered_at=now
        )
    unanswered = factories.make_conversation(inbox=factories.make_inbox(), customer=customer)
    CsatResponse.objects.create(conversation=unanswered, channel="api", requested_at=now)

    # conversations by channel, by topic; the calls; the surveys
    with django_assert_num_queries(4):
        stats = contact_stats(customer.pk)

    assert stats.total == 3
    assert stats.calls == 2
    assert ("phone calls", 2) in stats.by_channel
    assert stats.last_contact == later  # the newest call is the last contact
    assert (stats.csat, stats.csat_answers) == (4.5, 2)


def test_a_customer_without_calls_or_surveys(support_inbox) -> None:
    customer = factories.make_customer("Oleg", phone="+79120003344")
    factories.make_conversation(inbox=support_inbox, customer=customer)
    stats = contact_stats(customer.pk)
    assert (stats.total, stats.calls, stats.csat, stats.csat_answers) == (1, 0, None, 0)
    assert all(label != "phone calls" for label, _n in stats.by_channel)
    assert len(contact_figures(customer.pk)) == 2
