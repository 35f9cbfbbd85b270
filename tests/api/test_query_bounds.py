"""Query parameters the schema admits are answered, and ones it does not are a JSON 400
(the schemathesis run found each of these)."""

from __future__ import annotations

import pytest
from django.test import Client

from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(operator, support_inbox) -> Client:
    factories.make_conversation(inbox=support_inbox, text="Здравствуйте!", assignee=operator)
    client = Client()
    client.force_login(operator)
    return client


@pytest.mark.parametrize(
    "since",
    [
        "1848-10-13T00:28:23-20:33",  # an offset PostgreSQL refuses: was a 500
        "0001-01-01T00:00:00+05:00",  # before year 1 in UTC
        "9999-12-31T23:00:00-05:00",  # after 9999 in UTC
    ],
)
def test_updated_since_takes_any_offset_the_format_allows(client, since) -> None:
    answer = client.get("/api/v1/conversations/", {"updated_since": since})

    assert answer.status_code == 200, answer.content
    expected = 1 if since.startswith(("1848", "0001")) else 0
    assert len(answer.json()["results"]) == expected


def test_an_ordering_it_does_not_offer_is_a_400(client) -> None:
    assert client.get("/api/v1/conversations/", {"ordering": "updated_at"}).status_code == 200

    answer = client.get("/api/v1/conversations/", {"ordering": "customer"})

    assert answer.status_code == 400
    assert "ordering" in answer.json()
    assert client.get("/api/v1/search/", {"q": "Здрав", "ordering": "id"}).status_code == 400


@pytest.mark.parametrize(
    ("path", "query"), [("/api/v1/conversations/", {}), ("/api/v1/search/", {"q": "Здрав"})]
)
def test_a_page_size_that_is_not_a_number_is_a_400(client, path, query) -> None:
    answer = client.get(path, {**query, "page_size": "null"})

    assert answer.status_code == 400
    assert "page_size" in answer.json()
    assert client.get(path, {**query, "page_size": "5"}).status_code == 200


def test_an_empty_conversation_id_for_templates_is_a_400(client) -> None:
    answer = client.get("/api/v1/templates/", {"conversation": ""})

    assert answer.status_code == 400
    assert "conversation" in answer.json()
    assert client.get("/api/v1/templates/").status_code == 200


def test_the_schema_says_which_values_the_list_takes(client) -> None:
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    parameters = {
        p["name"]: p["schema"]
        for p in schema["paths"]["/api/v1/conversations/"]["get"]["parameters"]
    }

    assert set(parameters["ordering"]["enum"]) == {
        "created_at",
        "-created_at",
        "updated_at",
        "-updated_at",
    }
    assert parameters["assignee"]["pattern"] == r"^(me|none|[0-9]+)$"
