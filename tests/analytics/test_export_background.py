""" "Export in the background" on the statistics page: the button starts a Celery export
job, the list shows its progress (polling while it runs) and then links the file, which holds
the rows. In-process: the Django client, the real task (eager), no browser."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from accounts.models import Role
from analytics.models import ExportJob
from analytics.tasks import run_export
from chats.services.messages import message_reply
from tests import factories
from tests.analytics.conftest import clock
from tests.analytics.export_seed import T, csv_rows
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

PAGE_PERIOD = "period=custom&from=2026-06-01&to=2026-06-01"
HTMX = {"HX-Request": "true"}


def signed_in(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


@pytest.fixture
def conversations(operator, support_inbox):
    with clock(T):
        found = []
        for n in range(3):
            c = factories.make_conversation(inbox=support_inbox, assignee=operator, text=f"Hi {n}")
            message_reply(conversation=c, author=operator, body="Ответ")
            found.append(c)
    return found


def _download_link(html: str) -> str:
    found = re.search(r'href="(/statistics/exports/\d+/download/)"', html)
    assert found, html
    return found[1]


def test_the_button_starts_a_job_shows_it_and_links_the_file(conversations, admin_user) -> None:
    client = signed_in(admin_user)
    page = client.get(f"/statistics/?{PAGE_PERIOD}").content.decode()
    assert 'hx-post="/statistics/exports/?' in page  # the button the test presses
    # start: what htmx sends when the button is pressed
    with clock(T.replace(hour=11)):
        started = client.post(
            f"/statistics/exports/?{PAGE_PERIOD}",
            {"dataset": "conversations", "format": "csv"},
            headers=HTMX,
        )
    assert started.status_code == 200  # it was 405
    job = ExportJob.objects.get()
    assert (job.user_id, job.dataset, job.format) == (admin_user.pk, "conversations", "csv")
    assert job.status == ExportJob.Status.DONE, job.error  # the task ran (eager)
    fragment = started.content.decode()
    assert 'id="export-jobs"' in fragment and f'data-job="{job.pk}"' in fragment
    # status: the list the page polls
    status = client.get("/statistics/exports/jobs/")
    assert status.status_code == 200
    html = status.content.decode()
    assert 'data-status="done"' in html and "hx-trigger" not in html  # done: no more polling
    assert 'value="100"' in html
    # the file
    link = _download_link(html)
    assert link == f"/statistics/exports/{job.pk}/download/"
    file = client.get(link)
    assert file.status_code == 200
    assert file["Content-Disposition"].startswith("attachment;")
    rows = csv_rows(b"".join(file.streaming_content))
    assert sorted(int(r["id"]) for r in rows) == sorted(c.pk for c in conversations)
    assert all(r["created_at_local"] for r in rows)


def test_a_queued_job_polls_until_the_worker_has_built_it(conversations, admin_user) -> None:
    client = signed_in(admin_user)
    # no commit hook runs here: the job waits as it would for a busy worker
    started = client.post(
        f"/statistics/exports/?{PAGE_PERIOD}",
        {"dataset": "messages", "format": "xlsx"},
        headers=HTMX,
    )
    assert started.status_code == 200
    job = ExportJob.objects.get()
    assert job.status == ExportJob.Status.QUEUED
    waiting = started.content.decode()
    assert 'hx-get="/statistics/exports/jobs/"' in waiting and 'hx-trigger="every 2s"' in waiting
    assert "/download/" not in waiting
    assert client.get(f"/statistics/exports/{job.pk}/download/").status_code == 404
    run_export.delay(job.pk)  # the worker picks it up
    html = client.get("/statistics/exports/jobs/").content.decode()
    assert 'data-status="done"' in html and "hx-trigger" not in html
    file = client.get(_download_link(html))
    assert file.status_code == 200 and file["Content-Type"].startswith(
        "application/vnd.openxmlformats"
    )


def test_without_javascript_the_form_returns_to_the_dashboard(conversations, admin_user) -> None:
    client = signed_in(admin_user)
    with clock(T.replace(hour=11)):
        response = client.post(
            f"/statistics/exports/?{PAGE_PERIOD}", {"dataset": "hourly", "format": "parquet"}
        )
    assert response.status_code == 302
    assert response["Location"].startswith(f"/statistics/?{PAGE_PERIOD}")
    page = client.get(response["Location"]).content.decode()
    assert ExportJob.objects.get().status == ExportJob.Status.DONE
    assert _download_link(page)


def test_nobody_else_gets_the_file(conversations, admin_user, operator) -> None:
    with clock(T.replace(hour=11)):
        signed_in(admin_user).post(
            f"/statistics/exports/?{PAGE_PERIOD}",
            {"dataset": "conversations", "format": "csv"},
            headers=HTMX,
        )
    job = ExportJob.objects.get()
    other_admin = factories.make_user(role=Role.ADMIN)
    assert signed_in(other_admin).get(f"/statistics/exports/{job.pk}/download/").status_code == 404
    assert signed_in(operator).get(f"/statistics/exports/{job.pk}/download/").status_code == 404
    assert Client().get(f"/statistics/exports/{job.pk}/download/").status_code in (302, 403)
    bad = signed_in(admin_user).post(
        "/statistics/exports/", {"dataset": "nope", "format": "csv"}, headers=HTMX
    )
    assert bad.status_code == 400
