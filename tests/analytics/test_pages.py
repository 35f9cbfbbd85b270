"""The dashboard and the wallboard: who may open them and what they show."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import Client

from analytics import rollups
from tests import factories
from tests.analytics.conftest import clock
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def test_the_dashboard_shows_cards_heatmap_staffing_and_operators(
    admin_user, operator, support_inbox
):
    with clock(datetime(2026, 7, 6, 10, tzinfo=UTC)):
        factories.make_conversation(inbox=support_inbox, assignee=operator)
        rollups.rollup_rebuild()
        page = signed_in(admin_user).get("/statistics/?period=custom&from=2026-07-06&to=2026-07-06")
    assert page.status_code == 200
    html = page.content.decode()
    for marker in (
        'data-kpi="volume"',
        'id="heatmap"',
        'id="staffing-table"',
        'id="operators"',
        'id="trend-table"',
        "chart.umd.min.js",
        'id="export-jobs"',
    ):
        assert marker in html, marker
    assert page.context["cards"][0].value == 1
    assert ">Statistics<" in html  # the nav link


def test_roles_without_the_statistics_capability_are_refused(operator) -> None:
    assert signed_in(operator).get("/statistics/").status_code == 403
    assert signed_in(operator).get("/statistics/wallboard/live/").status_code == 403
    assert Client().get("/statistics/").status_code == 302  # to the login page


def test_the_wallboard_shows_the_queue_now(admin_user, support_inbox) -> None:
    with clock(datetime(2026, 7, 6, 10, tzinfo=UTC)):
        factories.make_conversation(inbox=support_inbox)  # nobody online: it waits
    with clock(datetime(2026, 7, 6, 10, 2, tzinfo=UTC)):
        page = signed_in(admin_user).get("/statistics/wallboard/live/")
    board = page.context["board"]
    assert (board.queue_length, board.longest_wait_seconds) == (1, 120)
    assert board.per_team[0]["team"] == "Support"
    assert 'id="wallboard"' in page.content.decode()


def test_exports_from_the_page_run_as_jobs_for_exporters_only(
    admin_user, operator, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in(admin_user).post(
            "/statistics/exports/?period=7d", {"dataset": "hourly", "format": "xlsx"}
        )
    assert response.status_code == 302
    from analytics.models import ExportJob

    assert ExportJob.objects.get().status == ExportJob.Status.DONE
    assert (
        signed_in(operator)
        .post("/statistics/exports/", {"dataset": "hourly", "format": "csv"})
        .status_code
        == 404
    )
