"""Exports and the reports API: the same rows in CSV, XLSX, Parquet and the API; 404
without the export capability; PII columns only with the PII capability."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from itertools import zip_longest
from zoneinfo import ZoneInfo

import pyarrow.parquet as pq
import pytest
from openpyxl import load_workbook
from rest_framework.test import APIClient

from accounts.models import Role
from analytics import rollups
from analytics.filters import ReportFilter
from analytics.models import ExportJob
from chats.services.conversations import conversation_close
from chats.services.messages import message_reply
from tests import factories
from tests.analytics.conftest import clock

pytestmark = pytest.mark.django_db

T = datetime(2026, 6, 1, 9, tzinfo=UTC)
PERIOD = "from=2026-06-01&to=2026-06-02"


@pytest.fixture
def data(operator, support_inbox, delivery_inbox, outsider):
    convs = []
    with clock(T):
        for n in range(3):
            c = factories.make_conversation(
                inbox=support_inbox,
                customer=factories.make_customer(f"Иван{n}", phone=f"+7916123450{n}"),
                assignee=operator,
            )
            message_reply(conversation=c, author=operator, body="Ответ")
            convs.append(c)
        conversation_close(conversation=convs[0], actor=operator)
        convs.append(factories.make_conversation(inbox=delivery_inbox, assignee=outsider))
    with clock(T.replace(hour=10)):
        rollups.rollup_rebuild()
    return convs


def as_user(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
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


def norm(value):
    """One spelling per value across the formats (CSV has only text)."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    try:
        return f"{float(value):.9g}"
    except (TypeError, ValueError):
        return str(value)


def download(client, dataset: str, fmt: str, query: str = PERIOD):
    response = client.get(f"/api/v1/reports/{dataset}.{fmt}?{query}")
    assert response.status_code == 200, response.content if fmt == "csv" else response
    body = b"".join(response.streaming_content) if response.streaming else response.content
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(body.decode("utf-8-sig")))
        return [dict(r) for r in reader]
    if fmt == "xlsx":
        sheet = load_workbook(io.BytesIO(body), read_only=True).active
        header, *rest = list(sheet.iter_rows(values_only=True))
        return [
            {
                h: (v.replace(tzinfo=UTC) if isinstance(v, datetime) else v)
                for h, v in zip_longest(header, r)
            }
            for r in rest
        ]
    return pq.read_table(io.BytesIO(body)).to_pylist()


@pytest.mark.parametrize("dataset", ["conversations", "events", "messages", "hourly", "operators"])
@pytest.mark.parametrize("fmt", ["csv", "xlsx", "parquet"])
def test_files_hold_the_same_rows_as_the_api(data, admin_user, dataset, fmt) -> None:
    client = as_user(admin_user)
    from_api = api_rows(client, dataset)
    from_file = download(client, dataset, fmt)
    assert from_api, "the fixture should produce rows"
    key = lambda r: tuple(sorted((k, norm(v)) for k, v in r.items()))  # noqa: E731
    api_norm = sorted(key({k: _api_value(v) for k, v in r.items()}) for r in from_api)
    file_norm = sorted(key(r) for r in from_file)
    assert file_norm == api_norm


def _api_value(v):
    if isinstance(v, str) and len(v) >= 19 and v[4] == "-" and "T" in v:
        return datetime.fromisoformat(v)
    return v


def test_a_conversation_row_has_what_bi_needs(data, admin_user) -> None:
    rows = {r["id"]: r for r in api_rows(as_user(admin_user), "conversations")}
    closed = rows[data[0].pk]
    assert closed["status"] == "closed"
    assert closed["operator"] == "anna" or closed["operator_id"] == data[0].assignee_id
    assert closed["first_response_seconds"] is not None
    assert closed["resolution_seconds"] is not None
    assert closed["link"].endswith(f"/inbox/c/{data[0].pk}/")
    assert closed["customer_phone"].startswith("+7916")  # the admin role may see PII


def test_no_pii_columns_without_the_pii_capability(data, support) -> None:
    analyst = factories.make_user(
        role=factories.make_role(
            scope=Role.Scope.ALL, can_export_reports=True, can_view_statistics=True
        )
    )
    client = as_user(analyst)
    rows = api_rows(client, "conversations")
    assert rows and not {"customer_name", "customer_phone", "customer_email"} & set(rows[0])
    header = download(client, "conversations", "csv")[0].keys()
    assert "customer_phone" not in header and "customer_id" in header


def test_without_the_export_capability_reports_do_not_exist(data, operator) -> None:
    client = as_user(operator)
    assert client.get(f"/api/v1/reports/conversations/?{PERIOD}").status_code == 404
    assert client.get(f"/api/v1/reports/conversations.csv?{PERIOD}").status_code == 404
    assert (
        client.post("/api/v1/reports/exports/", {"dataset": "calls", "format": "csv"}).status_code
        == 404
    )
    assert APIClient().get("/api/v1/reports/conversations/").status_code in (401, 403)


def test_exports_follow_the_conversation_scope(data, support) -> None:
    team_analyst = factories.make_user(
        teams=[support],
        role=factories.make_role(scope=Role.Scope.TEAMS, can_export_reports=True),
    )
    ids = {r["id"] for r in api_rows(as_user(team_analyst), "conversations")}
    assert ids == {c.pk for c in data[:3]}  # not the delivery team's


def test_updated_since_pulls_only_what_changed(data, admin_user) -> None:
    later = "updated_since=2026-06-01T09:30:00%2B00:00"
    assert api_rows(as_user(admin_user), "conversations", later) == []


def test_bad_filters_are_a_clear_400(admin_user) -> None:
    response = as_user(admin_user).get("/api/v1/reports/conversations/?from=yesterday&channel=fax")
    assert response.status_code == 400
    assert set(response.json()) == {"from", "channel"}


def test_a_background_export_reports_progress_and_gives_a_download(data, admin_user) -> None:
    client = as_user(admin_user)
    with clock(T.replace(hour=11)):
        started = client.post(
            f"/api/v1/reports/exports/?{PERIOD}", {"dataset": "conversations", "format": "parquet"}
        )
    assert started.status_code == 202
    job = ExportJob.objects.get(pk=started.json()["id"])
    assert job.status == ExportJob.Status.DONE
    status = client.get(f"/api/v1/reports/exports/{job.pk}/").json()
    assert (status["rows_done"], status["rows_total"], status["progress_percent"]) == (4, 4, 100)
    file = client.get(status["download"])
    table = pq.read_table(io.BytesIO(b"".join(file.streaming_content)))
    assert table.num_rows == 4
    # somebody else's job does not exist for them
    other = factories.make_user(role=Role.ADMIN)
    assert as_user(other).get(f"/api/v1/reports/exports/{job.pk}/").status_code == 404


def test_kpis_api_groups_by_operator(data, admin_user, operator) -> None:
    body = as_user(admin_user).get(f"/api/v1/reports/kpis/?{PERIOD}&group_by=operator").json()
    assert body["chats"]["volume"] == 4
    mine = next(g for g in body["groups"] if g["key"] == operator.pk)
    assert mine["chats"]["answered"] == 3
    assert body["names"][str(operator.pk)] == "anna"
    heat = as_user(admin_user).get(f"/api/v1/reports/heatmap/?{PERIOD}&metric=arrivals").json()
    assert len(heat["cells"]) == 168
    assert sum(c["avg"] for c in heat["cells"]) == pytest.approx(4)


def test_the_operator_filter_narrows_the_datasets(data, admin_user, operator, outsider) -> None:
    client = as_user(admin_user)
    mine = f"{PERIOD}&operator={operator.pk}"
    assert {r["id"] for r in api_rows(client, "conversations", mine)} == {c.pk for c in data[:3]}
    theirs = f"{PERIOD}&operator={outsider.pk}"
    assert [r["id"] for r in api_rows(client, "conversations", theirs)] == [data[3].pk]
    both = f"{PERIOD}&operator={operator.pk},{outsider.pk}"
    assert len(api_rows(client, "conversations", both)) == 4
    assert {r["conversation_id"] for r in api_rows(client, "messages", theirs)} <= {data[3].pk}
    assert {r["operator_id"] for r in api_rows(client, "hourly", mine)} == {operator.pk}
    assert [r["operator_id"] for r in api_rows(client, "operators", mine)] == [operator.pk]
    rows = download(client, "conversations", "csv", theirs)
    assert [r["id"] for r in rows] == [str(data[3].pk)]
    # the dashboard's figures too, as with group_by=operator
    assert client.get(f"/api/v1/reports/kpis/?{mine}").json()["chats"]["answered"] == 3
    assert client.get(f"/api/v1/reports/kpis/?{theirs}").json()["chats"]["answered"] == 0


def test_teams_repeat_or_comma_separate(data, admin_user, support, delivery) -> None:
    client = as_user(admin_user)
    repeated = api_rows(client, "conversations", f"{PERIOD}&team={support.pk}&team={delivery.pk}")
    comma = api_rows(client, "conversations", f"{PERIOD}&team={support.pk},{delivery.pk}")
    assert len(repeated) == len(comma) == 4
    only = api_rows(client, "conversations", f"{PERIOD}&team={delivery.pk}")
    assert [r["id"] for r in only] == [data[3].pk]


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("team=support", "team", "Team ids are numbers."),
        ("operator=anna", "operator", "Operator ids are numbers."),
        ("channel=fax,widget", "channel", "Unknown channel: fax"),
        ("from=2026-06-02&to=2026-06-01", "to", "The end must be after the start."),
        ("from=2026-02-30", "from", "Not a date or date-time: 2026-02-30"),
        ("updated_since=soon", "updated_since", "Not a date or date-time: soon"),
    ],
)
def test_each_bad_filter_is_a_400_naming_its_field(admin_user, query, field, message) -> None:
    client = as_user(admin_user)
    for url in (
        f"/api/v1/reports/conversations/?{query}",
        f"/api/v1/reports/conversations.csv?{query}",
        f"/api/v1/reports/kpis/?{query}",
    ):
        response = client.get(url)
        assert response.status_code == 400, url
        assert response.json() == {field: [message]}, url


def test_a_background_export_takes_its_filters_from_the_body(data, admin_user, delivery) -> None:
    client = as_user(admin_user)
    bad = client.post(
        "/api/v1/reports/exports/",
        {"dataset": "conversations", "format": "csv", "from": "someday"},
        format="json",
    )
    assert bad.status_code == 400
    assert set(bad.json()) == {"from"}
    with clock(T.replace(hour=11)):
        started = client.post(
            "/api/v1/reports/exports/",
            {
                "dataset": "conversations",
                "format": "csv",
                "team": [delivery.pk],
                "to": "2026-06-01",
            },
            format="json",
        )
    assert started.status_code == 202
    job = ExportJob.objects.get(pk=started.json()["id"])
    assert (job.status, job.rows_done) == (ExportJob.Status.DONE, 1)


def test_dates_are_days_in_the_viewers_time_zone() -> None:
    moscow = ZoneInfo("Europe/Moscow")
    filters = ReportFilter(
        {"from": "2026-06-01", "to": "2026-06-01", "updated_since": "2026-06-01T08:00"}, tz=moscow
    )
    assert filters.is_valid(), filters.errors
    query = filters.query()
    assert query.start == datetime(2026, 5, 31, 21, tzinfo=UTC)
    assert query.end == datetime(2026, 6, 1, 21, tzinfo=UTC)  # the whole day, inclusive
    assert query.updated_since == datetime(2026, 6, 1, 5, tzinfo=UTC)
    assert (query.team_ids, query.channels, query.operator_ids) == (None, None, None)


def test_the_calls_report_follows_the_call_scope(admin_user, operator, outsider) -> None:
    """A role that does not see every call gets only the calls it took (telephony's gate)."""
    from tests.analytics.test_rollups import make_call

    at = datetime(2026, 6, 1, 10, tzinfo=UTC)
    mine = make_call(operator=operator, started_at=at, state="completed", caller="+79990000001")
    make_call(operator=outsider, started_at=at, state="completed", caller="+79990000002")
    agent = factories.make_user(
        username="agent",
        role=factories.make_role(scope=Role.Scope.ASSIGNED, can_export_reports=True),
    )
    assert {r["id"] for r in api_rows(as_user(admin_user), "calls")} >= {mine.pk}
    assert api_rows(as_user(agent), "calls") == []
    mine.operator = agent
    mine.save(update_fields=["operator"])
    assert [r["id"] for r in api_rows(as_user(agent), "calls")] == [mine.pk]
