"""Report periods are bounded: at most `REPORT_MAX_DAYS` long, every date within
the range Python and PostgreSQL share, refused with a JSON 400 (API) or a page message (UI)
before anything is computed — a heatmap over eight thousand years once took 5.6 GB."""

from __future__ import annotations

import gc
import tracemalloc

import pytest
from django.test import Client, override_settings
from rest_framework.test import APIClient

from accounts.access import forget
from accounts.services import profile_update_preferences

pytestmark = pytest.mark.django_db

FAR = "from=0001-01-01&to=9999-12-30"
REPORTS = (
    "/api/v1/reports/heatmap/",
    "/api/v1/reports/kpis/",
    "/api/v1/reports/staffing/",
    "/api/v1/reports/conversations/",
    "/api/v1/reports/conversations.csv",
    "/api/v1/reports/hourly.xlsx",
)


def api_as(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def page_as(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("url", REPORTS)
@pytest.mark.parametrize(
    "query",
    [
        FAR,
        "to=9999-12-31",
        "from=9999-12-31",
        "from=0001-01-01",
        "to=9999-12-31T23:59:59-12:00",
        "from=2024-01-01&to=2026-01-03",  # 734 days
    ],
)
def test_a_period_past_the_bounds_is_a_json_400(admin_user, url, query) -> None:
    response = api_as(admin_user).get(f"{url}?{query}")

    assert response.status_code == 400, (url, query, response.content[:300])
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) <= {"from", "to", "detail"} and body, body


def test_the_messages_name_the_rule(admin_user) -> None:
    client = api_as(admin_user)

    too_long = client.get("/api/v1/reports/heatmap/?" + "from=2020-01-01&to=2026-01-01").json()
    out_of_range = client.get("/api/v1/reports/kpis/?to=9999-12-31").json()

    assert too_long == {"to": ["A period can be at most 730 days long."]}
    assert out_of_range == {"to": ["Dates must be between 1900-01-01 and 9998-12-31."]}


def test_a_long_open_ended_period_is_refused_too(admin_user) -> None:
    # `from` alone ends now: twenty years ago to now is too long for the figures
    response = api_as(admin_user).get("/api/v1/reports/heatmap/?from=2005-01-01")

    assert response.status_code == 400
    assert "730 days" in str(response.json())


def test_a_period_in_a_zone_ahead_of_utc_at_the_edges_is_refused(admin_user) -> None:
    profile_update_preferences(profile=admin_user.profile, time_zone="Pacific/Kiritimati")
    forget(admin_user)
    client = api_as(admin_user)

    for query in ("from=0001-01-01&to=0001-01-02", "from=9999-12-30&to=9999-12-31"):
        assert client.get(f"/api/v1/reports/kpis/?{query}").status_code == 400, query


@override_settings(REPORT_MAX_DAYS=31)
def test_the_span_is_a_setting(admin_user) -> None:
    client = api_as(admin_user)

    assert client.get("/api/v1/reports/kpis/?from=2026-01-01&to=2026-01-31").status_code == 200
    refused = client.get("/api/v1/reports/kpis/?from=2026-01-01&to=2026-02-01")
    assert refused.status_code == 400
    assert refused.json() == {"to": ["A period can be at most 31 days long."]}


def test_two_years_is_allowed(admin_user) -> None:
    response = api_as(admin_user).get("/api/v1/reports/heatmap/?from=2024-01-01&to=2025-12-30")

    assert response.status_code == 200, response.content[:300]


def test_the_refused_heatmap_stays_small_in_memory(admin_user) -> None:
    client = api_as(admin_user)
    client.get("/api/v1/reports/heatmap/?from=2026-01-01&to=2026-01-02")  # warm imports, caches
    gc.collect()

    tracemalloc.start()
    try:
        response = client.get(f"/api/v1/reports/heatmap/?{FAR}&metric=arrivals")
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert response.status_code == 400
    assert peak < 4 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


@pytest.mark.parametrize(
    "query",
    [
        f"period=custom&{FAR}",
        "period=custom&from=2026-01-01&to=9999-12-31",
        "period=custom&from=2026-02-30&to=2026-03-01",
        "period=custom&from=2020-01-01&to=2026-01-01",
    ],
)
def test_the_dashboard_answers_a_bad_period_with_a_page_message(admin_user, query) -> None:
    response = page_as(admin_user).get(f"/statistics/?{query}")

    assert response.status_code == 400
    html = response.content.decode()
    assert 'class="form-errors"' in html
    assert 'id="heatmap"' not in html  # nothing computed for it


def test_the_dashboard_export_refuses_a_bad_period(admin_user) -> None:
    response = page_as(admin_user).post(
        f"/statistics/exports/?period=custom&{FAR}", {"dataset": "hourly", "format": "csv"}
    )

    assert response.status_code == 400
