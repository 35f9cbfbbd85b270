"""The OpenAPI schema says what the API does: schemathesis generates requests for
every operation of the live schema (/api/v1/schema/), as an operator and as an admin, sends
them to the application in this process (WSGI, the test database) and checks each answer:
no server error, and status code, content type, headers and body as documented.

A fixed seed (derandomize) and a bounded number of examples per operation keep the run
repeatable and short; every distinct failure is listed in the assertion message."""

from __future__ import annotations

import contextlib
from collections import defaultdict
from typing import Any

import hypothesis
import hypothesis.errors
import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from django.test import Client
from hypothesis import HealthCheck, Phase
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.core.failures import Failure, FailureGroup

from accounts.models import User
from tests import factories

pytestmark = pytest.mark.django_db

EXAMPLES = {GenerationMode.POSITIVE: 10, GenerationMode.NEGATIVE: 5}


def _failures(exc: BaseException) -> list[Failure]:
    if isinstance(exc, FailureGroup):
        return [f for sub in exc.exceptions for f in _failures(sub)]
    if isinstance(exc, Failure):
        return [exc]
    raise exc


@pytest.fixture
def in_test_transaction() -> Any:
    """Requests served by the WSGI handler close the database connection when they finish
    (as in production); in a test that would drop the test's transaction. Django's test
    client keeps it the same way: by not closing old connections around a request."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


PERIOD = {"from", "to", "updated_since"}


def _period_refusal(case: Any, response: Any, failure: Failure) -> bool:
    """A report period the schema admits and the API refuses: longer
    than `REPORT_MAX_DAYS`, outside the supported years, an end before its start, or a day
    that does not exist (02-30). No OpenAPI keyword says any of these, so schemathesis'
    positive_data_acceptance cannot know; the answer is still checked to be exactly that: a
    400 naming only the period's fields."""
    if failure.title != "Schema-valid request rejected" or response.status_code != 400:
        return False
    if "from" not in case.operation.query:
        return False
    return bool(response.json()) and set(response.json()) <= PERIOD


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_holds_nul(v) for v in value)
    return False


def _nul_refusal(case: Any, response: Any, failure: Failure) -> bool:
    """Text with a NUL character, refused with a 400 everywhere (PostgreSQL cannot
    store it). The schema is OpenAPI 3.0: it cannot forbid a character in the keys of a
    free-form object, so schemathesis generates them as valid."""
    if failure.title != "Schema-valid request rejected" or response.status_code != 400:
        return False
    return _holds_nul([case.query, case.body, case.path_parameters])


# Body fields that name another object by its id.
REFERENCES = {"template_id", "operator", "team", "topic", "transaction_id"}


def _missing_reference(case: Any, response: Any, failure: Failure) -> bool:
    """An id in the body that names no object the caller may use (no template 42 in the
    test database): which ids exist is data, not schema. Only a 400 that names nothing but
    such fields, each sent as an integer."""
    if failure.title != "Schema-valid request rejected" or response.status_code != 400:
        return False
    if not isinstance(case.body, dict):
        return False
    named = set(response.json())
    return bool(named) and all(
        key in REFERENCES and type(case.body.get(key)) is int for key in named
    )


def _sends_nothing_invalid(case: Any) -> bool:
    """A negative case whose only invalid part is an empty object or list in the query: in
    the exploded form style it serialises to no parameter at all, so the request that
    reaches the API is valid (schemathesis still expects it refused)."""
    return any(value in ({}, []) for value in (case.query or {}).values())


def _probe(
    operation: Any, mode: GenerationMode, auth: Any, found: dict[str, dict[str, str]]
) -> None:
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode, auth_storage=auth))
    @hypothesis.settings(
        max_examples=EXAMPLES[mode],
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def probe(case: Any) -> None:
        # Each request on its own: one that failed in the database must not abort the test
        # transaction under the next ones.
        if mode is GenerationMode.NEGATIVE and _sends_nothing_invalid(case):
            return
        savepoint = transaction.savepoint()
        try:
            response = case.call()
        finally:
            transaction.savepoint_rollback(savepoint)
        try:
            case.validate_response(response)
        except (Failure, FailureGroup) as error:
            for failure in _failures(error):
                if any(
                    refusal(case, response, failure)
                    for refusal in (_period_refusal, _nul_refusal, _missing_reference)
                ):
                    continue
                example = f"{case.method} {case.formatted_path} {case.query or ''} "
                if case.media_type:
                    example += f"{case.media_type} {case.body!r:.200} "
                example += "-> "
                example += f"{response.status_code} {response.text[:200]}: {failure.message[:300]}"
                found[operation.label].setdefault(f"{mode}: {failure.title}", example)

    # An operation without parameters or body has nothing to make invalid.
    with contextlib.suppress(hypothesis.errors.Unsatisfiable):
        probe()


def run_schema(user: User) -> dict[str, dict[str, str]]:
    """Every distinct failure of one caller's run: operation -> {"mode: check": example}."""
    key = Token.objects.create(user=user).key
    schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", get_wsgi_application())

    @schema.auth()
    class TokenAuth:  # the caller's DRF token, known to schemathesis as the credentials
        def get(self, case: Any, context: Any) -> str:
            return key

        def set(self, case: Any, data: str, context: Any) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Token {data}"}

    found: dict[str, dict[str, str]] = defaultdict(dict)
    for result in schema.get_all_operations():
        for mode in EXAMPLES:
            _probe(result.ok(), mode, schema.auth, found)
    return found


def _report(found: dict[str, dict[str, str]]) -> str:
    return "\n".join(
        f"{label}: {title}\n    {example}"
        for label, titles in sorted(found.items())
        for title, example in sorted(titles.items())
    )


@pytest.mark.parametrize("persona", ["operator", "admin_user"])
def test_the_api_answers_as_its_schema_says(
    persona: str, request, support_inbox, in_test_transaction
) -> None:
    user = request.getfixturevalue(persona)
    factories.make_conversation(inbox=support_inbox, text="Здравствуйте!", assignee=user)

    found = run_schema(user)

    count = sum(len(titles) for titles in found.values())
    assert count == 0, f"{count} distinct failures:\n{_report(found)}"


def test_a_url_under_the_api_that_matches_no_route_answers_json(operator) -> None:
    client = Client()
    client.force_login(operator)

    for path in ("/api/v1/conversations/not-a-number/", "/api/v1/no-such-thing/"):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert answer["Content-Type"] == "application/json", path
        assert "detail" in answer.json()
    assert "text/html" in client.get("/no-such-page/")["Content-Type"]


def test_every_operation_documents_its_error_answers() -> None:
    schema = Client().get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()

    error = schema["components"]["schemas"]["Error"]
    assert "required" not in error  # a 400 for a malformed body names the fields instead
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            codes = set(operation["responses"])
            assert {"400", "401", "403", "404"} <= codes, f"{method.upper()} {path}: {codes}"
            if method != "get":
                assert "409" in codes, f"{method.upper()} {path}"
