"""Seed and readers shared by the export tests (tests/analytics/test_export_*.py): rows of
every dataset in two teams, and the files read back as rows."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from openpyxl import load_workbook
from rest_framework.test import APIClient

from accounts.models import Role, Team, User
from analytics import rollups
from analytics.models import HourlyPresence
from chats.models import Conversation
from chats.services.conversations import conversation_close
from chats.services.messages import message_reply
from tests import factories
from tests.analytics.conftest import clock

T = datetime(2026, 6, 1, 9, tzinfo=UTC)
PERIOD = "from=2026-06-01&to=2026-06-02"


@dataclass
class TwoTeams:
    """Conversations (with messages, events, CSAT-able closes), calls, roll-ups and presence
    in `support` (where `lead`, a teams-scoped exporter, works) and in `delivery`."""

    support: Team
    delivery: Team
    lead: User
    mine: list[Conversation]
    theirs: list[Conversation]
    my_call: Any
    their_call: Any
    support_people: set[int]
    delivery_people: set[int]


def seed_two_teams(*, support, delivery, support_inbox, delivery_inbox, operator, outsider):
    from tests.analytics.test_rollups import make_call

    lead = factories.make_user(
        username="lead",
        teams=[support],
        role=factories.make_role(
            scope=Role.Scope.TEAMS, can_export_reports=True, can_view_statistics=True
        ),
    )
    mine, theirs = [], []
    with clock(T):
        for inbox, person, bucket in (
            (support_inbox, operator, mine),
            (delivery_inbox, outsider, theirs),
        ):
            for n in range(2):
                c = factories.make_conversation(inbox=inbox, assignee=person, text=f"Hello {n}")
                message_reply(conversation=c, author=person, body="Ответ")
                bucket.append(c)
            conversation_close(conversation=bucket[0], actor=person)
    at = T + timedelta(minutes=5)
    my_call = make_call(operator=lead, started_at=at, state="completed", caller="+79990000001")
    their_call = make_call(operator=outsider, started_at=at, state="completed", caller="+79990002")
    for person in (operator, outsider):
        HourlyPresence.objects.create(
            hour=T, operator_id=person.pk, online_seconds=3000, slot_seconds=7000, load_seconds=3000
        )
    with clock(T.replace(hour=11)):
        rollups.rollup_rebuild()
    return TwoTeams(
        support=support,
        delivery=delivery,
        lead=lead,
        mine=mine,
        theirs=theirs,
        my_call=my_call,
        their_call=their_call,
        support_people={operator.pk, lead.pk},
        delivery_people={outsider.pk},
    )


def as_user(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(User.objects.get(pk=user.pk))  # a fresh profile cache
    return client


def api_rows(client, dataset: str, query: str = PERIOD) -> list[dict]:
    rows, url = [], f"/api/v1/reports/{dataset}/?{query}&page_size=2"
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        rows += body["results"]
        url = body.get("next")
    return rows


def file_body(client, dataset: str, fmt: str, query: str = PERIOD) -> bytes:
    response = client.get(f"/api/v1/reports/{dataset}.{fmt}?{query}")
    assert response.status_code == 200, response
    return b"".join(response.streaming_content) if response.streaming else response.content


def csv_rows(body: bytes) -> list[dict[str, str]]:
    return [dict(r) for r in csv.DictReader(io.StringIO(body.decode("utf-8-sig")))]


def xlsx_cells(body: bytes) -> tuple[list[str], list[list[Any]]]:
    """Header and the rows as openpyxl cells (a full load, so `data_type` tells a formula
    `f` from text `s`)."""
    sheet = load_workbook(io.BytesIO(body)).active
    header, *rest = list(sheet.iter_rows())
    return [c.value for c in header], [list(r) for r in rest]
