"""The OpenAPI schema documents every chats endpoint, and generates without warnings."""

from __future__ import annotations

import pytest
import yaml
from django.core.management import call_command
from drf_spectacular.drainage import GENERATOR_STATS

pytestmark = pytest.mark.django_db

PATHS = {
    "/api/v1/conversations/": {"get"},
    "/api/v1/conversations/{id}/": {"get"},
    "/api/v1/conversations/{id}/messages/": {"get", "post"},
    "/api/v1/messages/{id}/": {"delete"},
    "/api/v1/templates/": {"get"},
    "/api/v1/templates/{id}/render/": {"get"},
    "/api/v1/search/": {"get"},
    "/api/v1/inboxes/{key}/messages/": {"post"},
    **{
        f"/api/v1/conversations/{{id}}/{action}/": {"post"}
        for action in (
            "assign",
            "unassign",
            "transfer",
            "priority",
            "snooze",
            "unsnooze",
            "close",
            "reopen",
            "delete",
            "restore",
        )
    },
}


def test_the_schema_validates_without_warnings_and_lists_every_endpoint(tmp_path) -> None:
    target = tmp_path / "schema.yml"
    GENERATOR_STATS.reset()  # warnings of an earlier generation in this process are not ours

    # --fail-on-warn raises on any warning, --validate checks it against the OpenAPI spec.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))

    schema = yaml.safe_load(target.read_text())
    for path, methods in PATHS.items():
        assert path in schema["paths"], path
        assert methods <= set(schema["paths"][path]), path


def test_each_action_documents_its_body_and_answers(tmp_path) -> None:
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--file", str(target))
    paths = yaml.safe_load(target.read_text())["paths"]

    snooze = paths["/api/v1/conversations/{id}/snooze/"]["post"]
    assert snooze["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Snooze"
    }
    # Its own answers, and the ones every API operation can give (smartdesk/core/openapi.py):
    # signed out 401, CSRF or role 403, another method 405, an Accept it cannot meet 406,
    # a body too large 413 or not JSON 415, Redis out of reach 503. Not 429: it has no limit.
    assert set(snooze["responses"]) == {
        "200",
        "400",
        "401",
        "403",
        "404",
        "405",
        "406",
        "409",
        "413",
        "415",
        "503",
    }
    assert set(snooze["requestBody"]["content"]) == {"application/json"}
    assert "requestBody" not in paths["/api/v1/conversations/{id}/close/"]["post"]
    inbound = paths["/api/v1/inboxes/{key}/messages/"]["post"]
    assert {"200", "201", "400", "403", "404"} <= set(inbound["responses"])
    listing = paths["/api/v1/conversations/"]["get"]
    names = {p["name"] for p in listing["parameters"]}
    assert {
        "view",
        "status",
        "team",
        "assignee",
        "priority",
        "inbox",
        "channel",
        "customer",
        "updated_since",
        "q",
        "cursor",
        "ordering",
        "page_size",
    } <= names
