"""Every action of the workspace: one service call each, answered with the fresh thread
(htmx) or a redirect; 400 / 409 with the reason and nothing changed; 404 outside the scope."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from accounts.models import User
from chats.models import Conversation, ConversationEvent, Message
from chats.services import conversations as conversation_services
from tests import factories
from tests.chats.ui.conftest import HTMX, page_text, refreshed

pytestmark = pytest.mark.django_db

Status = Conversation.Status
EventType = ConversationEvent.Type


def url(name: str, conversation: Conversation, query: str = "") -> str:
    return reverse(f"conversation-{name}", args=[conversation.pk]) + query


def events(conversation: Conversation, type: str | None = None) -> list[ConversationEvent]:
    found = ConversationEvent.objects.filter(conversation=conversation)
    if type is not None:
        found = found.filter(type=type)
    return list(found.order_by("at", "id"))


def snapshot(conversation: Conversation) -> tuple[Any, ...]:
    fresh = refreshed(conversation)
    return (
        fresh.status,
        fresh.assignee_id,
        fresh.team_id,
        fresh.priority,
        fresh.snoozed_until,
        fresh.deleted_at,
        Message.objects.filter(conversation=conversation).count(),
        ConversationEvent.objects.filter(conversation=conversation).count(),
    )


# --- the composer -----------------------------------------------------------------------------


def test_a_reply_is_sent_and_the_page_comes_back(client_for, operator, conversation) -> None:
    response = client_for(operator).post(
        url("send", conversation, "?view=mine"), {"kind": "reply", "body": "Да, можно!"}
    )

    assert response.status_code == 302
    assert response["Location"] == f"/inbox/c/{conversation.pk}/?view=mine"
    reply = Message.objects.get(conversation=conversation, kind=Message.Kind.OUTBOUND)
    assert (reply.body, reply.author, reply.delivery_status) == ("Да, можно!", operator, "queued")
    assert refreshed(conversation).waiting_since is None


def test_a_note_stays_internal(client_for, operator, conversation) -> None:
    response = client_for(operator).post(
        url("send", conversation), {"kind": "note", "body": "Проверить соус"}, headers=HTMX
    )

    assert response.status_code == 200
    assert response["HX-Trigger"] == "sd-changed"
    html = page_text(response)
    assert html.lstrip().startswith('<div id="thread"')
    assert "Internal note" in html and "Проверить соус" in html
    note = Message.objects.get(conversation=conversation, kind=Message.Kind.NOTE)
    assert note.delivery_status == ""


def test_an_empty_message_is_refused_with_the_reason(client_for, operator, conversation) -> None:
    before = snapshot(conversation)

    page = client_for(operator).post(url("send", conversation), {"kind": "reply", "body": "  "})
    fragment = client_for(operator).post(
        url("send", conversation), {"kind": "reply", "body": ""}, headers=HTMX
    )

    assert page.status_code == 400
    assert 'role="alert"' in page_text(page) and "The message is empty." in page_text(page)
    assert fragment.status_code == 400
    assert fragment["HX-Retarget"] == "#action-errors"
    assert "The message is empty." in page_text(fragment)
    assert snapshot(conversation) == before


def test_an_unknown_kind_is_a_bad_request(client_for, operator, conversation) -> None:
    before = snapshot(conversation)

    response = client_for(operator).post(url("send", conversation), {"kind": "sms", "body": "x"})

    assert response.status_code == 400
    assert "Select a valid choice" in page_text(response)
    assert snapshot(conversation) == before


def test_a_reply_to_a_closed_conversation_is_a_conflict_and_keeps_the_text(
    client_for, operator, conversation
) -> None:
    conversation_services.conversation_close(conversation=conversation, actor=operator)
    before = snapshot(conversation)

    response = client_for(operator).post(
        url("send", conversation), {"kind": "reply", "body": "Текст, который жалко потерять"}
    )

    assert response.status_code == 409
    html = page_text(response)
    assert "Reopen the conversation to answer it." in html
    assert "Текст, который жалко потерять</textarea>" in html
    assert snapshot(conversation) == before


def test_answering_a_queued_conversation_takes_it(client_for, teammate, support_inbox) -> None:
    queued = factories.make_conversation(inbox=support_inbox)

    client_for(teammate).post(url("send", queued), {"kind": "reply", "body": "Здравствуйте!"})

    assert refreshed(queued).assignee == teammate
    assert events(queued, EventType.ASSIGNED)[-1].actor == teammate


# --- assignment -------------------------------------------------------------------------------


def test_take_refuses_a_conversation_someone_else_has(client_for, teammate, conversation) -> None:
    response = client_for(teammate).post(url("take", conversation), headers=HTMX)

    assert response.status_code == 409
    assert "anna has already taken this conversation." in page_text(response)
    assert refreshed(conversation).assignee.username == "anna"  # no silent swap


def test_take(client_for, operator, teammate, conversation) -> None:
    conversation_services.conversation_unassign(conversation=conversation, actor=operator)

    response = client_for(teammate).post(url("take", conversation), headers=HTMX)

    assert response.status_code == 200
    assert refreshed(conversation).assignee == teammate
    event = events(conversation, EventType.ASSIGNED)[-1]
    assert (event.actor, event.data["to_user"]) == (teammate, teammate.pk)
    assert "boris took the conversation." in page_text(response)


def test_unassign(client_for, operator, conversation) -> None:
    response = client_for(operator).post(url("unassign", conversation))

    assert response.status_code == 302
    assert refreshed(conversation).assignee is None
    assert events(conversation, EventType.UNASSIGNED)[-1].actor == operator


def test_transfer_to_a_teammate_with_a_reason(client_for, operator, teammate, conversation) -> None:
    response = client_for(operator).post(
        url("transfer", conversation),
        {"team": "", "operator": teammate.pk, "reason": "Он говорит по-английски"},
        headers=HTMX,
    )

    assert response.status_code == 200
    assert refreshed(conversation).assignee == teammate
    event = events(conversation, EventType.TRANSFERRED)[-1]
    assert (event.data["to_user"], event.data["reason"]) == (teammate.pk, "Он говорит по-английски")
    assert "Reason: Он говорит по-английски" in page_text(response)


def test_transfer_out_of_sight_goes_back_to_the_inbox(
    client_for, operator, delivery, conversation
) -> None:
    client = client_for(operator)

    response = client.post(
        url("transfer", conversation, "?view=mine"),
        {"team": delivery.pk, "reason": "Курьерская служба"},
        headers=HTMX,
    )

    assert response.status_code == 200
    assert response["HX-Redirect"] == "/inbox/?view=mine"
    fresh = refreshed(conversation)
    assert (fresh.team, fresh.assignee) == (delivery, None)
    assert events(conversation, EventType.TRANSFERRED)[-1].data["to_team"] == delivery.pk
    followed = client.get(response["HX-Redirect"])
    assert "no longer in your view" in page_text(followed)


def test_transfer_needs_a_reason(client_for, operator, teammate, conversation) -> None:
    before = snapshot(conversation)

    response = client_for(operator).post(
        url("transfer", conversation), {"operator": teammate.pk, "reason": " "}, headers=HTMX
    )

    assert response.status_code == 400
    assert "Say why the conversation is transferred." in page_text(response)
    assert snapshot(conversation) == before


def test_transfer_needs_a_target(client_for, operator, conversation) -> None:
    response = client_for(operator).post(url("transfer", conversation), {"reason": "why not"})

    assert response.status_code == 400
    assert "Choose a team or an operator to transfer to." in page_text(response)


def test_transfer_offers_active_operators_only(client_for, operator, teammate, conversation):
    factories.make_user(username="retired", teams=[], is_active=False)
    User.objects.create_user(username="no_profile", password="x-irrelevant-1")

    response = client_for(operator).get(reverse("conversation", args=[conversation.pk]))
    form = page_text(response).split('id="transfer-operator"', 1)[1].split("</select>", 1)[0]

    assert ">anna<" in form and ">boris<" in form
    assert "retired" not in form and "no_profile" not in form


def test_transfer_to_someone_who_cannot_take_conversations_is_refused(
    client_for, operator, conversation
) -> None:
    retired = factories.make_user(username="retired", is_active=False)

    response = client_for(operator).post(
        url("transfer", conversation), {"operator": retired.pk, "reason": "x"}
    )

    assert response.status_code == 400  # not among the choices
    assert refreshed(conversation).assignee == operator


# --- priority, snooze, close ------------------------------------------------------------------


def test_priority(client_for, operator, conversation) -> None:
    response = client_for(operator).post(url("priority", conversation), {"priority": 1})

    assert response.status_code == 302
    assert refreshed(conversation).priority == Conversation.Priority.HIGH
    event = events(conversation, EventType.PRIORITY)[-1]
    assert (event.data["before"], event.data["after"]) == (0, 1)


def test_an_unknown_priority_is_a_bad_request(client_for, operator, conversation) -> None:
    before = snapshot(conversation)

    response = client_for(operator).post(url("priority", conversation), {"priority": 7})

    assert response.status_code == 400
    assert snapshot(conversation) == before


def test_unsnooze(client_for, operator, conversation) -> None:
    conversation_services.conversation_snooze(conversation=conversation, actor=operator)

    response = client_for(operator).post(url("unsnooze", conversation), headers=HTMX)

    assert response.status_code == 200
    assert refreshed(conversation).status == Status.OPEN
    assert events(conversation, EventType.WOKE)[-1].data["cause"] == "operator"


def test_close_and_reopen(client_for, operator, conversation) -> None:
    client = client_for(operator)

    closed = client.post(url("close", conversation), headers=HTMX)
    assert closed.status_code == 200
    assert refreshed(conversation).status == Status.CLOSED
    assert events(conversation, EventType.CLOSED)[-1].actor == operator
    assert f'action="{url("reopen", conversation)}' in page_text(closed)

    reopened = client.post(url("reopen", conversation), headers=HTMX)
    assert reopened.status_code == 200
    assert refreshed(conversation).status == Status.OPEN
    assert events(conversation, EventType.REOPENED)[-1].actor == operator


def test_snoozing_a_closed_conversation_is_a_conflict(client_for, operator, conversation) -> None:
    conversation_services.conversation_close(conversation=conversation, actor=operator)
    before = snapshot(conversation)

    response = client_for(operator).post(
        url("snooze", conversation), {"preset": "1h"}, headers=HTMX
    )

    assert response.status_code == 409
    assert response["HX-Retarget"] == "#action-errors"
    assert "A closed conversation cannot be snoozed." in page_text(response)
    assert snapshot(conversation) == before


def test_taking_a_closed_conversation_is_a_conflict(client_for, teammate, conversation) -> None:
    conversation_services.conversation_close(conversation=conversation, actor=teammate)
    before = snapshot(conversation)

    response = client_for(teammate).post(url("take", conversation))

    assert response.status_code == 409
    assert "Reopen the conversation before assigning it." in page_text(response)
    assert snapshot(conversation) == before


# --- delete and restore -----------------------------------------------------------------------


def test_an_operator_deletes_and_loses_sight_of_it(client_for, operator, conversation) -> None:
    client = client_for(operator)

    response = client.post(url("delete", conversation), {"reason": "спам"})

    assert response.status_code == 302
    assert response["Location"] == "/inbox/?view=mine"
    fresh = refreshed(conversation)
    assert fresh.deleted_at is not None and fresh.deleted_by == operator
    assert events(conversation, EventType.DELETED)[-1].data["reason"] == "спам"
    assert client.get(reverse("conversation", args=[conversation.pk])).status_code == 404
    assert client.post(url("restore", conversation)).status_code == 404
    assert refreshed(conversation).deleted_at is not None


def test_an_admin_sees_a_deleted_conversation_and_restores_it(
    client_for, operator, admin_user, conversation
) -> None:
    conversation_services.conversation_delete(
        conversation=conversation, actor=operator, reason="спам"
    )
    client = client_for(admin_user)

    page = page_text(client.get(reverse("conversation", args=[conversation.pk])))
    assert "Deleted by anna on" in page
    assert 'id="action-restore"' in page
    assert 'id="action-close"' not in page  # nothing else to do with a deleted one
    listed = page_text(client.get(reverse("inbox"), {"view": "deleted"}))
    assert f'id="row-{conversation.pk}"' in listed

    response = client.post(url("restore", conversation), headers=HTMX)

    assert response.status_code == 200
    assert refreshed(conversation).deleted_at is None
    assert events(conversation, EventType.RESTORED)[-1].actor == admin_user


def test_restore_is_not_offered_to_an_operator_and_the_service_refuses_it(
    client_for, operator, conversation
) -> None:
    client = client_for(operator)
    assert 'id="action-restore"' not in page_text(
        client.get(reverse("conversation", args=[conversation.pk]))
    )
    before = snapshot(conversation)

    response = client.post(url("restore", conversation), headers=HTMX)

    assert response.status_code == 403
    assert "Your role does not allow restoring conversations." in page_text(response)
    assert snapshot(conversation) == before


def test_acting_on_a_deleted_conversation_is_a_conflict(
    client_for, operator, admin_user, conversation
) -> None:
    conversation_services.conversation_delete(conversation=conversation, actor=operator)
    before = snapshot(conversation)

    response = client_for(admin_user).post(url("close", conversation))

    assert response.status_code == 409
    assert "This conversation was deleted." in page_text(response)
    assert snapshot(conversation) == before


# --- messages ---------------------------------------------------------------------------------


def test_deleting_a_message(client_for, operator, conversation) -> None:
    message = conversation.messages.get()

    response = client_for(operator).post(reverse("message-delete", args=[message.pk]), headers=HTMX)

    assert response.status_code == 200
    message.refresh_from_db()
    assert message.deleted_by == operator
    assert events(conversation, EventType.MESSAGE_DELETED)[-1].data["message_id"] == message.pk
    assert "Можно ролл без кунжута?" not in page_text(response)


# --- the gate ---------------------------------------------------------------------------------

POSTS: dict[str, dict[str, Any]] = {
    "send": {"kind": "note", "body": "outsider was here"},
    "take": {},
    "unassign": {},
    "transfer": {"reason": "x", "operator": ""},
    "priority": {"priority": 2},
    "snooze": {"preset": "1h"},
    "unsnooze": {},
    "close": {},
    "reopen": {},
    "delete": {},
    "restore": {},
}


@pytest.mark.parametrize("action", list(POSTS))
def test_an_outsider_gets_not_found_for_every_action_and_changes_nothing(
    client_for, outsider, conversation, action
) -> None:
    before = snapshot(conversation)

    response = client_for(outsider).post(url(action, conversation), POSTS[action], headers=HTMX)

    assert response.status_code == 404
    assert snapshot(conversation) == before


def test_an_outsider_cannot_delete_a_message_of_a_conversation_they_do_not_see(
    client_for, outsider, conversation
) -> None:
    message = conversation.messages.get()

    response = client_for(outsider).post(reverse("message-delete", args=[message.pk]))

    assert response.status_code == 404
    message.refresh_from_db()
    assert message.deleted_at is None


@pytest.mark.parametrize("action", ["take", "close"])
def test_actions_need_a_post(client_for, operator, conversation, action) -> None:
    before = snapshot(conversation)

    assert client_for(operator).get(url(action, conversation)).status_code == 405
    assert snapshot(conversation) == before


def test_actions_need_a_login(client, conversation) -> None:
    before = snapshot(conversation)

    response = client.post(url("close", conversation))

    assert response.status_code == 302
    assert snapshot(conversation) == before


def test_a_message_beyond_the_limit_is_refused(client_for, operator, conversation) -> None:
    before = snapshot(conversation)

    response = client_for(operator).post(
        url("send", conversation), {"kind": "note", "body": "я" * 10_001}
    )

    assert response.status_code == 400
    assert "The message is too long (10001 characters, at most 10000)." in page_text(response)
    assert snapshot(conversation) == before


# --- read -------------------------------------------------------------------------------------


def test_the_assignee_reading_a_pushed_message_clears_the_unread_count(
    client_for, operator, outsider, conversation
) -> None:
    conversation_services.conversation_take(conversation=conversation, actor=operator)
    factories.receive(conversation, "are you there?")
    unread = refreshed(conversation).unread_count
    assert unread > 0

    # someone who may not see it: 404, and nothing changes
    assert client_for(outsider).post(url("read", conversation)).status_code == 404
    assert refreshed(conversation).unread_count == unread
    # a GET is not a read
    assert client_for(operator).get(url("read", conversation)).status_code == 405

    assert client_for(operator).post(url("read", conversation)).status_code == 204
    assert refreshed(conversation).unread_count == 0
