"""GET /api/v1/conversations/ (list, filters, pagination), /conversations/<id>/ and /search/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from chats.models import Conversation, Inbox
from chats.services.conversations import (
    conversation_close,
    conversation_delete,
    conversation_set_priority,
    conversation_snooze,
)
from tests import factories

pytestmark = pytest.mark.django_db

LIST = "/api/v1/conversations/"

ROW_FIELDS = {
    "id",
    "status",
    "effective_status",
    "priority",
    "topic",
    "team",
    "assignee",
    "inbox",
    "customer",
    "waiting_since",
    "first_response_at",
    "last_message_at",
    "last_message_preview",
    "unread_count",
    "snoozed_until",
    "snooze_until_reply",
    "snooze_reason",
    "closed_at",
    "created_at",
    "updated_at",
}


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


# --- access ----------------------------------------------------------------------------


def test_each_persona_lists_only_the_conversations_of_its_scope(
    api,
    operator,
    teammate,
    outsider,
    admin_user,
    super_admin,
    support_conversation,
    delivery_conversation,
) -> None:
    support, delivery = support_conversation.pk, delivery_conversation.pk

    assert ids(api(operator).get(LIST)) == {support}
    assert ids(api(teammate).get(LIST)) == {support}
    assert ids(api(outsider).get(LIST)) == {delivery}
    assert ids(api(admin_user).get(LIST)) == {support, delivery}
    assert ids(api(super_admin).get(LIST)) == {support, delivery}


def test_anonymous_callers_are_refused_everywhere(api, support_conversation) -> None:
    anonymous = api(None)
    pk = support_conversation.pk

    for url in (LIST, f"{LIST}{pk}/", f"{LIST}{pk}/messages/", "/api/v1/search/?q=order"):
        assert anonymous.get(url).status_code in (401, 403), url
    assert anonymous.post(f"{LIST}{pk}/close/").status_code in (401, 403)
    assert Conversation.objects.get(pk=pk).status == Conversation.Status.OPEN


def test_a_token_works_for_integrations_without_csrf(operator, support_conversation) -> None:
    token = Token.objects.create(user=operator)
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")

    assert ids(client.get(LIST)) == {support_conversation.pk}
    response = client.post(f"{LIST}{support_conversation.pk}/close/")
    assert response.status_code == 200
    assert response.json()["status"] == "closed"


def test_a_session_write_needs_the_csrf_token(operator, support_conversation) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(operator)

    response = client.post(f"{LIST}{support_conversation.pk}/close/")

    assert response.status_code == 403
    assert Conversation.objects.get(pk=support_conversation.pk).status == "open"


# --- the row ---------------------------------------------------------------------------


def test_a_row_has_its_references_and_no_deletion_field_for_an_operator(
    api, operator, support, support_inbox, support_conversation
) -> None:
    row = api(operator).get(LIST).json()["results"][0]

    assert set(row) == ROW_FIELDS
    assert row["team"] == {"id": support.pk, "name": "Support"}
    assert row["inbox"] == {"id": support_inbox.pk, "name": "Website API", "kind": "api"}
    assert row["customer"] == {
        "id": support_conversation.customer_id,
        "name": support_conversation.customer.name,
    }
    assert row["assignee"] is None
    assert (row["status"], row["effective_status"], row["priority"]) == ("open", "open", "normal")
    assert row["last_message_preview"] == "My order 1042 is late"
    assert row["unread_count"] == 1


def test_those_who_may_restore_also_get_deleted_at(api, admin_user, support_conversation) -> None:
    row = api(admin_user).get(LIST).json()["results"][0]

    assert set(row) == ROW_FIELDS | {"deleted_at"}
    assert row["deleted_at"] is None


def test_the_assignee_is_named(api, operator, support_inbox) -> None:
    factories.make_conversation(inbox=support_inbox, assignee=operator)

    row = api(operator).get(LIST).json()["results"][0]

    assert row["assignee"] == {"id": operator.pk, "name": "anna"}


# --- filters ---------------------------------------------------------------------------


def test_views_are_those_of_the_inbox(
    api, operator, admin_user, support_inbox, support_conversation
) -> None:
    mine = factories.make_conversation(inbox=support_inbox, assignee=operator)
    closed = factories.make_conversation(inbox=support_inbox)
    conversation_close(conversation=closed, actor=operator)
    deleted = factories.make_conversation(inbox=support_inbox)
    conversation_delete(conversation=deleted, actor=admin_user)
    client = api(operator)

    assert ids(client.get(LIST, {"view": "mine"})) == {mine.pk}
    assert ids(client.get(LIST, {"view": "queue"})) == {support_conversation.pk}
    assert ids(client.get(LIST, {"view": "team"})) == {support_conversation.pk, mine.pk}
    assert ids(client.get(LIST, {"view": "closed"})) == {closed.pk}
    assert ids(client.get(LIST)) == {support_conversation.pk, mine.pk, closed.pk}
    assert ids(api(admin_user).get(LIST, {"view": "deleted"})) == {deleted.pk}
    row = api(admin_user).get(LIST, {"view": "deleted"}).json()["results"][0]
    assert row["deleted_at"] is not None


def test_a_view_the_role_does_not_have_is_a_404_and_an_unknown_one_a_400(api, operator) -> None:
    client = api(operator)

    assert client.get(LIST, {"view": "deleted"}).status_code == 404
    assert client.get(LIST, {"view": "all"}).status_code == 404
    response = client.get(LIST, {"view": "everything"})
    assert response.status_code == 400
    assert "view" in response.json()


def test_status_is_the_effective_one(api, operator, support_inbox) -> None:
    start = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        sleeping = factories.make_conversation(inbox=support_inbox)
        conversation_snooze(conversation=sleeping, actor=operator, until=start + timedelta(hours=1))
        client = api(operator)
        assert ids(client.get(LIST, {"status": "snoozed"})) == {sleeping.pk}
        assert ids(client.get(LIST, {"status": "open"})) == set()

        clock.shift(timedelta(hours=2))  # due, but no sweep has run

        assert ids(client.get(LIST, {"status": "open"})) == {sleeping.pk}
        assert ids(client.get(LIST, {"status": "snoozed"})) == set()
        row = client.get(f"{LIST}{sleeping.pk}/").json()
        assert (row["status"], row["effective_status"]) == ("snoozed", "open")


def test_filters_by_team_assignee_priority_inbox_channel_and_customer(
    api, operator, teammate, admin_user, support, delivery, support_inbox, delivery_inbox
) -> None:
    widget = factories.make_inbox(kind=Inbox.Kind.WIDGET, team=support)
    customer = factories.make_customer("Olga")
    mine = factories.make_conversation(inbox=support_inbox, assignee=operator, customer=customer)
    theirs = factories.make_conversation(inbox=widget, assignee=teammate)
    queued = factories.make_conversation(inbox=support_inbox)
    conversation_set_priority(conversation=queued, priority=2, actor=operator)
    elsewhere = factories.make_conversation(inbox=delivery_inbox)
    client = api(admin_user)

    assert ids(client.get(LIST, {"team": support.pk})) == {mine.pk, theirs.pk, queued.pk}
    assert ids(client.get(LIST, {"team": delivery.pk})) == {elsewhere.pk}
    assert ids(client.get(LIST, {"assignee": operator.pk})) == {mine.pk}
    assert ids(client.get(LIST, {"assignee": "none"})) == {queued.pk, elsewhere.pk}
    assert ids(api(teammate).get(LIST, {"assignee": "me"})) == {theirs.pk}
    assert ids(client.get(LIST, {"priority": "urgent"})) == {queued.pk}
    assert ids(client.get(LIST, {"inbox": support_inbox.pk})) == {mine.pk, queued.pk}
    assert ids(client.get(LIST, {"channel": "widget"})) == {theirs.pk}
    assert ids(client.get(LIST, {"customer": customer.pk})) == {mine.pk}


def test_filters_never_widen_the_scope(
    api, outsider, support, support_conversation, delivery_conversation
) -> None:
    client = api(outsider)

    assert ids(client.get(LIST, {"team": support.pk})) == set()
    assert ids(client.get(LIST, {"customer": support_conversation.customer_id})) == set()
    assert ids(client.get(LIST, {"q": "1042"})) == set()


def test_updated_since_pulls_only_what_changed(api, operator, support_inbox) -> None:
    with time_machine.travel(datetime(2026, 3, 2, 10, 0, tzinfo=UTC), tick=False) as clock:
        old = factories.make_conversation(inbox=support_inbox)
        changed = factories.make_conversation(inbox=support_inbox)
        clock.shift(timedelta(minutes=10))
        mark = timezone.now()
        clock.shift(timedelta(minutes=1))
        conversation_close(conversation=changed, actor=operator)
        new = factories.make_conversation(inbox=support_inbox)

        response = api(operator).get(
            LIST, {"updated_since": mark.isoformat(), "ordering": "updated_at"}
        )

    assert [row["id"] for row in response.json()["results"]] == [changed.pk, new.pk]
    assert old.pk not in ids(response)


def test_q_searches_through_the_gate(
    api, operator, support_conversation, delivery_conversation
) -> None:
    assert ids(api(operator).get(LIST, {"q": "1042"})) == {support_conversation.pk}
    assert ids(api(operator).get(LIST, {"q": "courier"})) == set()


@pytest.mark.parametrize(
    "params",
    [
        {"assignee": "somebody"},
        {"status": "asleep"},
        {"priority": "critical"},
        {"channel": "fax"},
        {"team": "support"},
        {"updated_since": "yesterday"},
    ],
)
def test_a_malformed_filter_is_a_400_naming_it(api, operator, params) -> None:
    response = api(operator).get(LIST, params)

    assert response.status_code == 400
    assert set(response.json()) == set(params)


# --- pagination and queries ------------------------------------------------------------


def test_the_cursor_walks_every_row_once_in_a_stable_order(api, operator, support_inbox) -> None:
    made = [factories.make_conversation(inbox=support_inbox).pk for _ in range(7)]
    client = api(operator)

    seen, url = [], f"{LIST}?page_size=3"
    while url:
        page = client.get(url).json()
        seen += [row["id"] for row in page["results"]]
        url = page["next"]

    assert seen == sorted(made, reverse=True)  # newest first


def test_the_updated_at_cursor_survives_rows_changing_at_the_same_instant(
    api, operator, support_inbox
) -> None:
    with time_machine.travel(datetime(2026, 3, 2, 10, 0, tzinfo=UTC), tick=False):
        made = [factories.make_conversation(inbox=support_inbox).pk for _ in range(5)]
        seen, url = [], f"{LIST}?page_size=2&ordering=updated_at"
        client = api(operator)
        while url:
            page = client.get(url).json()
            seen += [row["id"] for row in page["results"]]
            url = page["next"]

    assert seen == sorted(made)  # equal times: the id breaks the tie


def test_the_list_costs_the_same_queries_for_2_or_12_rows(
    api, operator, teammate, support_inbox, django_assert_num_queries
) -> None:
    client = api(operator)
    for size in (2, 12):
        while Conversation.objects.count() < size:
            factories.make_conversation(inbox=support_inbox, assignee=teammate)
        # session, user, operator profile + role, the page (with its references, one join)
        with django_assert_num_queries(4):
            response = client.get(LIST)
        assert len(response.json()["results"]) == size


# --- detail ----------------------------------------------------------------------------


def test_the_detail_adds_the_customer_identities_masked_without_the_pii_capability(
    api, operator, admin_user, support_inbox
) -> None:
    customer = factories.make_customer("Irina", phone="+7 912 000-11-22")
    conversation = factories.make_conversation(inbox=support_inbox, customer=customer)

    as_operator = api(operator).get(f"{LIST}{conversation.pk}/").json()
    as_admin = api(admin_user).get(f"{LIST}{conversation.pk}/").json()

    assert set(as_operator) == ROW_FIELDS | {"identities"}
    assert as_operator["identities"] == [
        {"kind": "phone", "value": "+7•••22", "verified": False, "masked": True}
    ]
    assert "+79120001122" not in str(as_operator)
    assert as_admin["identities"] == [
        {"kind": "phone", "value": "+79120001122", "verified": False, "masked": False}
    ]


def test_the_detail_is_a_404_outside_the_scope_and_for_nothing(
    api, operator, outsider, support_conversation
) -> None:
    assert api(outsider).get(f"{LIST}{support_conversation.pk}/").status_code == 404
    assert api(operator).get(f"{LIST}999999999/").status_code == 404
    assert api(operator).get(f"{LIST}99999999999999999999/").status_code == 404
    assert api(operator).get(f"{LIST}{support_conversation.pk}/").status_code == 200


def test_a_deleted_conversation_is_shown_only_to_those_who_may_restore_it(
    api, operator, admin_user, support_conversation
) -> None:
    conversation_delete(conversation=support_conversation, actor=operator)
    url = f"{LIST}{support_conversation.pk}/"

    assert api(operator).get(url).status_code == 404
    assert support_conversation.pk not in ids(api(operator).get(LIST))
    data = api(admin_user).get(url).json()
    assert data["deleted_at"] is not None


# --- search ----------------------------------------------------------------------------


def test_search_answers_conversations_within_the_gate(
    api, operator, outsider, admin_user, support_conversation, delivery_conversation
) -> None:
    url = "/api/v1/search/"

    assert ids(api(operator).get(url, {"q": "1042"})) == {support_conversation.pk}
    assert ids(api(outsider).get(url, {"q": "1042"})) == set()
    assert ids(api(outsider).get(url, {"q": "courier"})) == {delivery_conversation.pk}
    assert ids(api(admin_user).get(url, {"q": "courier"})) == {delivery_conversation.pk}
    row = api(operator).get(url, {"q": "1042"}).json()["results"][0]
    assert set(row) == ROW_FIELDS


def test_search_needs_a_query(api, operator) -> None:
    response = api(operator).get("/api/v1/search/")

    assert response.status_code == 400
    assert "q" in response.json()


def test_an_assigned_scope_reaches_only_its_own_conversations(
    api, support, support_inbox, support_conversation
) -> None:
    contractor = factories.make_user(
        username="kira",
        role=factories.make_role(name="Contractor", slug="contractor", scope="assigned"),
        teams=[support],
    )
    own = factories.make_conversation(inbox=support_inbox, assignee=contractor)
    client = api(contractor)

    assert ids(client.get(LIST)) == {own.pk}
    assert client.get(f"{LIST}{support_conversation.pk}/").status_code == 404
    assert client.get(f"{LIST}{own.pk}/").status_code == 200
    assert client.get(LIST, {"view": "queue"}).status_code == 404


def test_a_tampered_cursor_is_refused_not_a_500(api, operator, support_conversation) -> None:
    import base64

    client = api(operator)
    garbage = base64.b64encode(b"p=not-a-date").decode()

    response = client.get(LIST, {"cursor": garbage})
    assert response.status_code == 400
    assert response.json()["detail"]


def test_page_size_is_capped(api, operator, support_inbox) -> None:
    for _ in range(3):
        factories.make_conversation(inbox=support_inbox)

    response = api(operator).get(LIST, {"page_size": 100_000})

    assert response.status_code == 200
    assert len(response.json()["results"]) == 3
