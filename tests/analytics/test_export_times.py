"""Exports speak the viewer's time and round their figures: every datetime as local
time with its offset (the requester's time zone) beside UTC for BI; durations in whole
seconds, percentages with one decimal; no unrounded float in any file or the API."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import pyarrow.parquet as pq
import pytest
from openpyxl import load_workbook

from accounts.models import OperatorProfile
from analytics import exports, rollups
from analytics.models import ExportJob
from chats.services.conversations import conversation_close
from chats.services.messages import message_reply
from tests import factories
from tests.analytics.conftest import clock
from tests.analytics.export_seed import (
    PERIOD,
    T,
    api_rows,
    as_user,
    csv_rows,
    file_body,
    seed_two_teams,
)

pytestmark = pytest.mark.django_db

MOSCOW = "Europe/Moscow"


def _in_moscow(user):
    OperatorProfile.objects.filter(user=user).update(time_zone=MOSCOW)
    return user


@pytest.fixture
def timed(admin_user, operator, support_inbox):
    """One conversation: opened 09:00:00 UTC, answered 7.6 s later, closed 10 min 0.4 s in."""
    with clock(T):
        conversation = factories.make_conversation(inbox=support_inbox, assignee=operator)
    with clock(T + timedelta(seconds=7.6)):
        message_reply(conversation=conversation, author=operator, body="Ответ")
    with clock(T + timedelta(minutes=10, seconds=0.4)):
        conversation_close(conversation=conversation, actor=operator)
    with clock(T.replace(hour=11)):
        rollups.rollup_rebuild()
    return conversation


def test_times_are_local_with_the_offset_and_utc_beside(timed, admin_user) -> None:
    client = as_user(_in_moscow(admin_user))
    [row] = csv_rows(file_body(client, "conversations", "csv"))
    assert row["created_at_local"] == "2026-06-01T12:00:00+03:00"
    assert row["created_at_utc"] == "2026-06-01T09:00:00+00:00"
    assert row["closed_at_local"] == "2026-06-01T12:10:00+03:00"
    assert "created_at" not in row
    assert (row["first_response_seconds"], row["resolution_seconds"]) == ("8", "600")
    [api] = api_rows(client, "conversations")
    assert api["created_at_local"] == "2026-06-01T12:00:00+03:00"
    assert datetime.fromisoformat(api["created_at_utc"]) == T
    assert (api["first_response_seconds"], api["resolution_seconds"]) == (8, 600)


def test_xlsx_and_parquet_carry_both_times(timed, admin_user) -> None:
    client = as_user(_in_moscow(admin_user))
    sheet = load_workbook(io.BytesIO(file_body(client, "conversations", "xlsx"))).active
    header, cells = list(sheet.iter_rows())
    row = {h.value: c for h, c in zip(header, cells, strict=True)}
    local, utc = row["created_at_local"], row["created_at_utc"]
    assert (local.data_type, local.value) == ("s", "2026-06-01T12:00:00+03:00")
    assert utc.is_date and utc.value == T.replace(tzinfo=None)  # UTC (Excel has no zones)
    table = pq.read_table(io.BytesIO(file_body(client, "conversations", "parquet")))
    [parquet] = table.to_pylist()
    assert parquet["created_at_local"] == "2026-06-01T12:00:00+03:00"
    assert parquet["created_at_utc"] == T
    assert parquet["first_response_seconds"] == 8


def test_a_background_export_uses_the_requesters_time_zone(timed, admin_user) -> None:
    client = as_user(_in_moscow(admin_user))
    with clock(T.replace(hour=11)):
        started = client.post(
            f"/api/v1/reports/exports/?{PERIOD}", {"dataset": "events", "format": "csv"}
        )
    job = ExportJob.objects.get(pk=started.json()["id"])
    assert job.status == ExportJob.Status.DONE, job.error
    body = b"".join(client.get(f"/api/v1/reports/exports/{job.pk}/download/").streaming_content)
    rows = csv_rows(body)
    assert rows and all(r["at_local"].endswith("+03:00") for r in rows)
    assert all(r["at_utc"].endswith("+00:00") for r in rows)


@pytest.fixture
def everywhere(support, delivery, support_inbox, delivery_inbox, operator, outsider):
    return seed_two_teams(
        support=support,
        delivery=delivery,
        support_inbox=support_inbox,
        delivery_inbox=delivery_inbox,
        operator=operator,
        outsider=outsider,
    )


DECIMALS = re.compile(r"-?\d+\.(\d+)")


@pytest.mark.parametrize("dataset", sorted(exports.DATASETS))
def test_no_unrounded_float_in_any_dataset(everywhere, admin_user, dataset) -> None:
    client = as_user(admin_user)
    columns = {c.key: c for c in exports.output_columns(exports.DATASETS[dataset].columns)}
    assert not [k for k, c in columns.items() if c.type == "datetime" and k[-4:] != "_utc"]
    rows = csv_rows(file_body(client, dataset, "csv"))
    assert rows, "the seed should give every dataset rows"
    for row in rows:
        for key, text in row.items():
            column = columns[key]
            if column.type == "int" and text:
                assert re.fullmatch(r"-?\d+", text), (key, text)
            if column.type == "float" and text:
                found = DECIMALS.fullmatch(text)
                assert found is None or len(found[1]) <= column.digits, (key, text)
    for row in api_rows(client, dataset):
        for key, value in row.items():
            if isinstance(value, float):
                assert value == round(value, columns[key].digits), (key, value)
            if columns[key].type == "int":
                assert value is None or isinstance(value, int), (key, value)
    for row in pq.read_table(io.BytesIO(file_body(client, dataset, "parquet"))).to_pylist():
        for key, value in row.items():
            if isinstance(value, float):
                assert value == round(value, columns[key].digits), (key, value)


def test_operator_figures_are_percent_and_seconds(everywhere, admin_user, operator) -> None:
    [row] = [
        r
        for r in csv_rows(file_body(as_user(admin_user), "operators", "csv"))
        if r["operator_id"] == str(operator.pk)
    ]
    assert row["occupancy_percent"] == "42.9"  # 3000 / 7000 busy of the offered capacity
    assert row["online_seconds"] == "3000"


def test_rounding_is_half_up_and_durations_are_whole_seconds() -> None:
    columns = [
        exports.Column("wait_seconds", "int"),
        exports.Column("score", "float", digits=2),
        exports.Column("share", "float", digits=1),
    ]
    row = exports.publish_row(columns, {"wait_seconds": 2.5, "score": 2.675, "share": 42.85}, UTC)
    assert row == {"wait_seconds": 3, "score": 2.68, "share": 42.9}
