"""The inbound API's cost per message does not grow with the data: at 20 messages a second a
query more per message, or one that scans, is felt by every operator on the floor."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from chats.models import Inbox
from tests import factories

pytestmark = pytest.mark.django_db


def _post(inbox: Inbox, external_id: str, phone: str) -> Any:
    return APIClient().post(
        f"/api/v1/inboxes/{inbox.key}/messages/",
        {"external_id": external_id, "customer": {"kind": "phone", "value": phone}, "text": "hi"},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {inbox.secret}",
    )


def _queries_of_a_follow_up(inbox: Inbox, *, earlier: int, others: int) -> int:
    for n in range(others):
        other = factories.make_conversation(inbox=inbox)
        factories.receive(other, f"other {n}")
    for n in range(earlier):
        assert _post(inbox, f"earlier-{earlier}-{n}", "+79990000001").status_code in (200, 201)
    with CaptureQueriesContext(connection) as ctx:
        response = _post(inbox, f"follow-up-{earlier}", "+79990000001")
    assert response.status_code == 201, response.content
    return len(ctx.captured_queries)


def test_a_follow_up_message_costs_the_same_queries_whatever_the_history(
    support_inbox: Inbox,
) -> None:
    small = _queries_of_a_follow_up(support_inbox, earlier=1, others=1)
    large = _queries_of_a_follow_up(support_inbox, earlier=25, others=20)

    assert small == large
    # The inbox by key; the identity; the customer row lock; the duplicate check; the open
    # conversation (locked); the message; the conversation's counters; two live-event rows;
    # transaction and savepoint statements; each event's commit-stamped id after commit.
    assert large <= 17
