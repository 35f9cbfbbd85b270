"""A follow-up conversation opened from a call: assigned to the operator within their
capacity, audited with the call's id, an internal note linking the call, linked back to the
call so a second click opens the same one; refused clearly (and nothing stored) otherwise."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.db.models import QuerySet
from django.test import Client

from accounts.models import Role
from accounts.services import operator_busy_set
from chats.models import Conversation, ConversationEvent, Message
from chats.selectors import actionable_conversations, visible_conversations
from chats.services.outreach import conversation_open_by_operator
from smartdesk.core.models import LiveEvent
from telephony.models import Call, CallOffer
from telephony.services import call_event_apply, call_followup_open
from tests import factories
from tests.telephony.simulator import queue_call

pytestmark = pytest.mark.django_db

NUMBER = "+79161234567"


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def rung_call(pbx, anna) -> Call:
    """A call that rang Anna (queued, offered to her)."""
    for fields in queue_call(caller=NUMBER)[:6]:
        call_event_apply(pbx_id=pbx.pk, fields={k: str(v) for k, v in fields.items()})
    call = Call.objects.get()
    assert CallOffer.objects.filter(call=call, operator=anna).exists()
    return call


@pytest.fixture
def known_call(rung_call, support_inbox) -> Call:
    """The caller is a customer who once wrote through the support inbox (closed since)."""
    customer = factories.make_customer("Svetlana", "Orlova", phone=NUMBER)
    earlier = factories.make_conversation(inbox=support_inbox, customer=customer)
    Conversation.objects.filter(pk=earlier.pk).update(status=Conversation.Status.CLOSED)
    Call.objects.filter(pk=rung_call.pk).update(customer=customer, note="Wants a refund")
    return Call.objects.get(pk=rung_call.pk)


def _follow_up(client: Client, call: Call, **headers: str):
    return client.post(f"/telephony/calls/{call.pk}/follow-up/", headers=headers)


def _new_conversations(call: Call) -> QuerySet[Conversation]:
    return Conversation.objects.filter(customer=call.customer, status=Conversation.Status.OPEN)


def test_a_follow_up_opens_an_assigned_audited_conversation_linked_to_the_call(
    known_call, anna, support_inbox, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = _follow_up(_client(anna), known_call, **{"HX-Request": "true"})
    assert response.status_code == 200, response.content
    conversation = _new_conversations(known_call).get()
    assert response["HX-Redirect"] == f"/inbox/c/{conversation.pk}/"
    assert (conversation.inbox, conversation.assignee, conversation.team_id) == (
        support_inbox,  # the customer's most recent conversation's inbox
        anna,
        support_inbox.default_team_id,
    )
    known_call.refresh_from_db()
    assert known_call.follow_up_conversation == conversation

    events = list(conversation.events.values_list("type", "actor_id", "data"))
    assert events[0] == (
        ConversationEvent.Type.CREATED,
        anna.pk,
        {"inbox": support_inbox.pk, "source": "call", "call_id": known_call.pk},
    )
    assert events[1][0] == ConversationEvent.Type.ASSIGNED
    note = Message.objects.get(conversation=conversation)
    assert note.kind == Message.Kind.NOTE and note.author == anna
    assert f"call #{known_call.pk}" in note.body and "Wants a refund" in note.body
    # the operator's load carries it (the capacity rules applied)
    anna.profile.refresh_from_db()
    assert anna.profile.load == conversation.load_weight
    live = LiveEvent.objects.filter(conversation_id=conversation.pk)
    assert live.filter(payload__change="created", payload__assignee_id=anna.pk).exists()

    # the conversation page opens for her
    assert _client(anna).get(f"/inbox/c/{conversation.pk}/").status_code == 200


def test_a_second_click_opens_the_same_conversation(known_call, anna, admin_user) -> None:
    client = _client(anna)
    first = _follow_up(client, known_call)
    conversation = _new_conversations(known_call).get()
    assert first.status_code == 302 and first["Location"] == f"/inbox/c/{conversation.pk}/"
    card = client.get(f"/telephony/calls/{known_call.pk}/card/").content.decode()
    assert "Open the follow-up conversation" in card

    again = _follow_up(client, known_call, **{"HX-Request": "true"})
    assert again["HX-Redirect"] == f"/inbox/c/{conversation.pk}/"
    # an admin (scope all) who may see the call gets the same conversation too
    assert _follow_up(_client(admin_user), known_call)["Location"] == f"/inbox/c/{conversation.pk}/"
    assert _new_conversations(known_call).count() == 1
    assert (
        ConversationEvent.objects.filter(
            conversation=conversation, type=ConversationEvent.Type.CREATED
        ).count()
        == 1
    )
    assert Message.objects.filter(conversation=conversation).count() == 1


def test_only_who_may_see_the_call_can_open_a_follow_up(known_call, boris, outsider) -> None:
    # Boris is in Anna's team and sees the customer's conversations, but was not rung
    assert _follow_up(_client(boris), known_call).status_code == 404
    assert _follow_up(_client(outsider), known_call).status_code == 404
    assert Client().post(f"/telephony/calls/{known_call.pk}/follow-up/").status_code == 302
    assert not _new_conversations(known_call).exists()
    known_call.refresh_from_db()
    assert known_call.follow_up_conversation is None


def test_an_operator_at_capacity_is_refused_and_nothing_is_stored(known_call, anna) -> None:
    operator_busy_set(user_id=anna.pk, weight=1000)  # on another call
    response = _follow_up(_client(anna), known_call, **{"HX-Request": "true"})
    assert response.status_code == 409
    assert "at capacity" in response.content.decode()
    assert not _new_conversations(known_call).exists()
    assert not ConversationEvent.objects.filter(data__source="call").exists()
    known_call.refresh_from_db()
    assert known_call.follow_up_conversation is None


def test_an_unknown_caller_must_be_created_first(rung_call, anna) -> None:
    response = _follow_up(_client(anna), rung_call, **{"HX-Request": "true"})
    assert response.status_code == 400
    assert "Create the customer first" in response.content.decode()
    assert (
        "Open a follow-up conversation"
        not in _client(anna).get(f"/telephony/calls/{rung_call.pk}/card/").content.decode()
    )
    assert not Conversation.objects.exists()


def test_the_inbox_is_the_configured_one_else_the_last_one_else_a_clear_refusal(
    rung_call, anna, support, settings
) -> None:
    customer = factories.make_customer("Irina", phone=NUMBER)
    Call.objects.filter(pk=rung_call.pk).update(customer=customer)
    client = _client(anna)

    refused = _follow_up(client, rung_call, **{"HX-Request": "true"})
    assert refused.status_code == 400
    assert "no conversation yet" in refused.content.decode()
    assert not Conversation.objects.exists()

    settings.TELEPHONY_FOLLOWUP_INBOX = "no-such-key"
    assert _follow_up(client, rung_call).status_code == 400

    follow_ups = factories.make_inbox(name="Follow-ups", team=support)
    settings.TELEPHONY_FOLLOWUP_INBOX = follow_ups.key
    assert _follow_up(client, rung_call).status_code == 302
    assert Conversation.objects.get().inbox == follow_ups


def test_the_button_is_in_the_customers_call_history_for_calls_one_may_open(
    known_call, anna, boris, support_inbox
) -> None:
    conversation = factories.make_conversation(
        inbox=support_inbox, customer=known_call.customer, assignee=anna
    )
    url = f"/inbox/c/{conversation.pk}/panel/"
    mine = _client(anna).get(url, {"part": "card"}).content.decode()
    assert "Open a follow-up conversation" in mine
    assert f"/telephony/calls/{known_call.pk}/follow-up/" in mine
    theirs = _client(boris).get(url, {"part": "card"}).content.decode()
    assert "Calls (1)" in theirs and "Open a follow-up conversation" not in theirs

    # a refusal from the history answers just the reason
    operator_busy_set(user_id=anna.pk, weight=1000)
    refused = _client(anna).post(
        f"/telephony/calls/{known_call.pk}/follow-up/",
        {"from": "history"},
        headers={"HX-Request": "true"},
    )
    assert refused.status_code == 409
    assert 'class="action-error"' in refused.content.decode()
    assert "call-card" not in refused.content.decode()


@pytest.mark.parametrize("scope", [Role.Scope.ASSIGNED, Role.Scope.TEAMS, Role.Scope.ALL])
def test_the_actor_sees_the_conversation_they_open_whatever_their_scope(
    scope, delivery, support_inbox
) -> None:
    actor = factories.make_user(role=factories.make_role(scope=scope), teams=[delivery])
    customer = factories.make_customer("Svetlana", phone=NUMBER)
    conversation = conversation_open_by_operator(
        customer=customer, inbox=support_inbox, actor=actor, note="x", source={"call_id": 1}
    )
    assert conversation.team_id != delivery.pk  # not a team of theirs
    assert visible_conversations(actor).filter(pk=conversation.pk).exists()
    assert actionable_conversations(actor).filter(pk=conversation.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_two_clicks_at_once_open_one_conversation(known_call, anna) -> None:
    barrier = threading.Barrier(2)
    opened: list[tuple[int, bool]] = []
    errors: list[BaseException] = []

    def click() -> None:
        try:
            barrier.wait(10)
            conversation, created = call_followup_open(call=known_call, actor=anna)
            opened.append((conversation.pk, created))
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    assert sorted(created for _pk, created in opened) == [False, True]
    assert len({pk for pk, _created in opened}) == 1
    assert _new_conversations(known_call).count() == 1
