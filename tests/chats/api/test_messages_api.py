"""GET/POST /api/v1/conversations/<id>/messages/ and DELETE /api/v1/messages/<id>/."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import Team
from accounts.services import profile_update_preferences
from chats.models import Conversation, ConversationEvent, Message, ReplyTemplate
from chats.services.conversations import conversation_close, conversation_delete
from chats.services.messages import message_delete, message_note
from chats.services.templates import reply_template_save
from tests import factories

pytestmark = pytest.mark.django_db

EventType = ConversationEvent.Type


def messages_url(conversation: Conversation) -> str:
    return f"/api/v1/conversations/{conversation.pk}/messages/"


def bodies(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [m["body"] for m in response.json()["results"]]


# --- reading ---------------------------------------------------------------------------


def test_the_thread_comes_newest_first_and_pages_back_in_time(
    api, operator, support_conversation
) -> None:
    for n in range(4):
        factories.receive(support_conversation, f"follow-up {n}")
    client = api(operator)

    first = client.get(messages_url(support_conversation), {"page_size": 3}).json()
    second = client.get(first["next"]).json()

    assert [m["body"] for m in first["results"]] == ["follow-up 3", "follow-up 2", "follow-up 1"]
    assert [m["body"] for m in second["results"]] == ["follow-up 0", "My order 1042 is late"]
    assert second["next"] is None
    newest = first["results"][0]
    assert newest["kind"] == "inbound"
    assert newest["author"] is None
    assert newest["conversation_id"] == support_conversation.pk
    assert "deleted_at" not in newest


def test_deleted_messages_are_shown_to_admins_only(
    api, operator, admin_user, support_conversation
) -> None:
    gone = factories.receive(support_conversation, "my card number is 4111")
    message_delete(message=gone, actor=operator)

    assert bodies(api(operator).get(messages_url(support_conversation))) == [
        "My order 1042 is late"
    ]
    rows = api(admin_user).get(messages_url(support_conversation)).json()["results"]
    assert [m["body"] for m in rows] == ["my card number is 4111", "My order 1042 is late"]
    assert rows[0]["deleted_at"] is not None
    assert rows[0]["deleted_by"] == {"id": operator.pk, "name": "anna"}
    assert rows[1]["deleted_at"] is None


def test_the_thread_is_a_404_outside_the_scope(api, outsider, support_conversation) -> None:
    assert api(outsider).get(messages_url(support_conversation)).status_code == 404


# --- writing ---------------------------------------------------------------------------


def test_a_reply_is_queued_for_the_customer_and_takes_the_conversation(
    api, operator, support_conversation
) -> None:
    response = api(operator).post(
        messages_url(support_conversation), {"kind": "reply", "body": "On its way!"}, format="json"
    )

    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["kind"], data["body"], data["delivery_status"]) == (
        "outbound",
        "On its way!",
        "queued",
    )
    assert data["author"] == {"id": operator.pk, "name": "anna"}
    conversation = Conversation.objects.get(pk=support_conversation.pk)
    assert conversation.assignee_id == operator.pk
    assert conversation.first_response_at is not None


def test_a_note_stays_internal(api, teammate, support_conversation) -> None:
    response = api(teammate).post(
        messages_url(support_conversation), {"kind": "note", "body": "VIP"}, format="json"
    )

    assert response.status_code == 201
    message = Message.objects.get(pk=response.json()["id"])
    assert (message.kind, message.delivery_status, message.author_id) == ("note", "", teammate.pk)


def test_a_template_is_rendered_for_the_conversation(api, operator, support, support_inbox) -> None:
    customer = factories.make_customer("Olga")
    conversation = factories.make_conversation(inbox=support_inbox, customer=customer)
    template = reply_template_save(
        template=ReplyTemplate(
            name="Hello", shortcut="hello", body="Hello, {{ customer.first_name }}!", team=support
        ),
        actor=None,
    )

    response = api(operator).post(
        messages_url(conversation), {"kind": "reply", "template_id": template.pk}, format="json"
    )

    assert response.status_code == 201, response.content
    assert response.json()["body"] == "Hello, Olga!"


@pytest.mark.parametrize(
    "payload",
    [
        {"kind": "reply", "body": "   "},
        {"kind": "reply"},
        {"kind": "letter", "body": "hi"},
        {"body": "hi"},
        {"kind": "reply", "body": "hi", "template_id": 1},
        {"kind": "reply", "template_id": 999999},
        {"kind": "note", "body": "x" * 10_001},
    ],
)
def test_bad_input_is_a_400_and_stores_nothing(
    api, operator, support_conversation, payload
) -> None:
    response = api(operator).post(messages_url(support_conversation), payload, format="json")

    assert response.status_code == 400
    assert response.json()  # says what is wrong
    assert support_conversation.messages.count() == 1


def test_a_template_of_another_team_is_not_offered(api, operator, support_conversation) -> None:
    elsewhere = reply_template_save(
        template=ReplyTemplate(
            name="Courier",
            shortcut="courier",
            body="Your courier",
            team=Team.objects.create(name="Night shift"),
        ),
        actor=None,
    )

    response = api(operator).post(
        messages_url(support_conversation),
        {"kind": "reply", "template_id": elsewhere.pk},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {"template_id": ["No such template."]}


def test_a_reply_to_a_closed_conversation_is_a_409(api, operator, support_conversation) -> None:
    conversation_close(conversation=support_conversation, actor=operator)

    response = api(operator).post(
        messages_url(support_conversation), {"kind": "reply", "body": "hi"}, format="json"
    )

    assert response.status_code == 409
    assert response.json() == {"detail": "Reopen the conversation to answer it."}
    assert support_conversation.messages.count() == 1
    assert Conversation.objects.get(pk=support_conversation.pk).assignee_id is None


def test_writing_outside_the_scope_is_a_404_and_stores_nothing(
    api, outsider, support_conversation
) -> None:
    response = api(outsider).post(
        messages_url(support_conversation), {"kind": "note", "body": "hi"}, format="json"
    )

    assert response.status_code == 404
    assert support_conversation.messages.count() == 1


def test_errors_speak_the_language_of_a_token_caller(operator, support_conversation) -> None:
    profile_update_preferences(profile=operator.profile, language="ru")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=operator).key}")

    response = client.post(messages_url(support_conversation), {"body": "hi"}, format="json")

    assert response.status_code == 400
    assert response.json() == {"kind": ["Обязательное поле."]}


# --- deleting --------------------------------------------------------------------------


def test_deleting_a_message_is_soft_and_audited(api, operator, support_conversation) -> None:
    message = support_conversation.messages.get()

    response = api(operator).delete(f"/api/v1/messages/{message.pk}/")

    assert response.status_code == 204
    message.refresh_from_db()
    assert (message.deleted_by_id, message.deleted_at is not None) == (operator.pk, True)
    event = support_conversation.events.get(type=EventType.MESSAGE_DELETED)
    assert (event.actor_id, event.data) == (operator.pk, {"message_id": message.pk})


def test_deleting_a_message_outside_the_scope_is_a_404_and_changes_nothing(
    api, outsider, support_conversation
) -> None:
    message = support_conversation.messages.get()

    assert api(outsider).delete(f"/api/v1/messages/{message.pk}/").status_code == 404
    assert api(outsider).delete("/api/v1/messages/999999999/").status_code == 404
    message.refresh_from_db()
    assert message.deleted_at is None
    assert not support_conversation.events.filter(type=EventType.MESSAGE_DELETED).exists()


def test_a_deleted_message_exists_again_only_for_those_who_see_deleted_ones(
    api, operator, admin_user, support_conversation
) -> None:
    note = message_note(conversation=support_conversation, author=operator, body="oops")
    message_delete(message=note, actor=operator)
    url = f"/api/v1/messages/{note.pk}/"

    assert api(operator).delete(url).status_code == 404
    assert api(admin_user).delete(url).status_code == 204  # idempotent
    assert support_conversation.events.filter(type=EventType.MESSAGE_DELETED).count() == 1


def test_messages_of_a_deleted_conversation_cannot_be_deleted_by_an_operator(
    api, operator, support_conversation
) -> None:
    message = support_conversation.messages.get()
    conversation_delete(conversation=support_conversation, actor=operator)

    assert api(operator).delete(f"/api/v1/messages/{message.pk}/").status_code == 404


def test_the_thread_costs_the_same_queries_for_2_or_12_messages(
    api, operator, teammate, support_conversation, django_assert_num_queries
) -> None:
    client = api(operator)
    for size in (2, 12):
        while support_conversation.messages.count() < size:
            message_note(conversation=support_conversation, author=teammate, body="noted")
        # session, user, operator profile + role, the conversation through the gate,
        # the page (with authors, one join)
        with django_assert_num_queries(5):
            response = client.get(messages_url(support_conversation))
        assert len(response.json()["results"]) == size
