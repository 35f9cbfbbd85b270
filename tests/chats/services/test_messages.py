"""Ingest, replies, notes and delivery."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError

from chats import adapters
from chats.models import Conversation, ConversationEvent, Message
from chats.services import conversations as conv_svc
from chats.services import messages as svc
from tests import factories

pytestmark = pytest.mark.django_db


def test_a_first_message_opens_a_conversation_in_the_inbox_team(support_inbox, support):
    conversation = factories.make_conversation(inbox=support_inbox, text="Привет")

    assert (conversation.team, conversation.status, conversation.assignee) == (
        support,
        "open",
        None,
    )
    assert conversation.waiting_since is not None
    assert conversation.last_message_preview == "Привет"
    assert conversation.unread_count == 1
    assert ConversationEvent.objects.filter(conversation=conversation, type="created").exists()


def test_ingest_is_idempotent_on_the_channel_id(support_inbox) -> None:
    customer = factories.make_customer()
    first, created = svc.message_receive(
        inbox=support_inbox, customer=customer, body="hi", external_id="upd-1"
    )
    again, created_again = svc.message_receive(
        inbox=support_inbox, customer=customer, body="hi (retry)", external_id="upd-1"
    )

    assert (created, created_again) == (True, False)
    assert again.pk == first.pk
    assert Message.objects.count() == 1
    assert Conversation.objects.get().unread_count == 1


def test_the_same_channel_id_in_another_inbox_is_another_message(support_inbox, delivery_inbox):
    customer = factories.make_customer()
    svc.message_receive(inbox=support_inbox, customer=customer, body="a", external_id="1")
    svc.message_receive(inbox=delivery_inbox, customer=customer, body="b", external_id="1")

    assert Message.objects.count() == 2


def test_a_message_joins_the_open_conversation_then_reopens_a_recent_one_then_starts_anew(
    operator, support_inbox
) -> None:
    customer = factories.make_customer()
    start = datetime(2026, 4, 1, 10, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        first = factories.make_conversation(inbox=support_inbox, customer=customer)
        factories.receive(first, "second message")
        assert Conversation.objects.count() == 1

        conv_svc.conversation_close(conversation=first, actor=operator)
        clock.shift(timedelta(hours=23))
        factories.receive(first, "one more thing")
        first.refresh_from_db()
        assert first.status == "open"
        assert ConversationEvent.objects.get(conversation=first, type="reopened").data == {
            "cause": "customer"
        }

        conv_svc.conversation_close(conversation=first, actor=operator)
        clock.shift(timedelta(hours=25))
        factories.receive(first, "new question")

    assert Conversation.objects.count() == 2
    assert Conversation.objects.get(pk=first.pk).status == "closed"


def test_a_reply_takes_an_unassigned_conversation_and_is_delivered(
    operator, support_inbox, django_capture_on_commit_callbacks
) -> None:
    conversation = factories.make_conversation(inbox=support_inbox)

    with django_capture_on_commit_callbacks(execute=True):
        reply = svc.message_reply(conversation=conversation, author=operator, body="On its way!")

    conversation.refresh_from_db()
    assert conversation.assignee == operator
    assert conversation.waiting_since is None
    assert conversation.first_response_at == reply.created_at
    reply.refresh_from_db()
    assert reply.delivery_status == "sent"  # the task ran (eager) through the API adapter


def test_a_note_is_never_queued_for_delivery(
    operator, support_inbox, django_capture_on_commit_callbacks
) -> None:
    conversation = factories.make_conversation(inbox=support_inbox)

    with django_capture_on_commit_callbacks(execute=True):
        note = svc.message_note(conversation=conversation, author=operator, body="VIP, be nice")

    note.refresh_from_db()
    assert (note.kind, note.delivery_status) == ("note", "")
    conversation.refresh_from_db()
    assert conversation.waiting_since is not None  # a note is not an answer


def test_a_note_cannot_leave_through_a_customer_channel_even_if_handed_to_one(
    operator, support_inbox
) -> None:
    """The adapter boundary itself refuses: whatever code calls it, notes stay inside."""

    class Recording(adapters.ChannelAdapter):
        sent: list[int] = []

        def _send(self, message: Message) -> str:
            self.sent.append(message.pk)
            return "ext-1"

    conversation = factories.make_conversation(inbox=support_inbox)
    note = svc.message_note(conversation=conversation, author=operator, body="internal")
    system = Message.objects.create(
        conversation=conversation, inbox=support_inbox, kind="system", body="x"
    )
    channel = Recording()

    for message in (note, system):
        with pytest.raises(adapters.NotDeliverable):
            channel.send(message)
    assert Recording.sent == []


def test_a_note_forced_into_the_delivery_queue_fails_visibly_and_is_not_sent(
    operator, support_inbox
) -> None:
    conversation = factories.make_conversation(inbox=support_inbox)
    note = svc.message_note(conversation=conversation, author=operator, body="internal")
    Message.objects.filter(pk=note.pk).update(delivery_status="queued")  # a bug elsewhere

    assert svc.message_deliver(message_id=note.pk) == "failed"
    note.refresh_from_db()
    assert "notes never leave" in note.delivery_error


def test_delivery_to_a_channel_without_an_adapter_fails_visibly(operator, roles, support) -> None:
    inbox = factories.make_inbox(kind="telegram", team=support)
    conversation = factories.make_conversation(inbox=inbox)

    reply = svc.message_reply(conversation=conversation, author=operator, body="hello")
    status = svc.message_deliver(message_id=reply.pk)

    reply.refresh_from_db()
    assert status == reply.delivery_status == "failed"
    assert "Telegram" in reply.delivery_error
    assert svc.message_deliver(message_id=reply.pk) == "failed"  # safe to run twice


def test_replying_to_a_closed_conversation_is_refused(operator, support_inbox) -> None:
    conversation = factories.make_conversation(inbox=support_inbox, assignee=operator)
    conv_svc.conversation_close(conversation=conversation, actor=operator)

    with pytest.raises(conv_svc.ActionRefused):
        svc.message_reply(conversation=conversation, author=operator, body="late")
    assert not Message.objects.filter(kind="outbound").exists()


def test_empty_and_oversized_messages_are_refused(operator, support_inbox) -> None:
    conversation = factories.make_conversation(inbox=support_inbox)
    for body in ("   ", "x" * (svc.MAX_BODY + 1)):
        with pytest.raises(ValidationError):
            svc.message_reply(conversation=conversation, author=operator, body=body)


def test_deleting_a_message_is_soft_and_audited(admin_user, operator, support_inbox) -> None:
    conversation = factories.make_conversation(inbox=support_inbox)
    message = conversation.messages.get()

    svc.message_delete(message=message, actor=operator)

    message.refresh_from_db()
    assert message.deleted_at is not None and message.deleted_by == operator
    assert message.body  # nothing erased
    event = ConversationEvent.objects.get(type="message_deleted")
    assert event.data == {"message_id": message.pk}
