from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from chats.models import Conversation, ConversationEvent
from chats.selectors import conversation_for, visible_conversations
from chats.services import conversations as svc
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(support_inbox) -> Conversation:
    return factories.make_conversation(inbox=support_inbox)


def test_take_assigns_to_me_once(operator, conversation) -> None:
    svc.conversation_take(conversation=conversation, actor=operator)
    svc.conversation_take(conversation=conversation, actor=operator)

    assert Conversation.objects.get(pk=conversation.pk).assignee == operator
    assert ConversationEvent.objects.filter(type="assigned").count() == 1


def test_transfer_to_another_team_goes_to_its_queue_with_the_reason(
    operator, outsider, conversation, delivery
) -> None:
    svc.conversation_take(conversation=conversation, actor=operator)

    svc.conversation_transfer(
        conversation=conversation, actor=operator, team=delivery, reason="wrong topic: courier"
    )

    conversation.refresh_from_db()
    assert (conversation.team, conversation.assignee) == (delivery, None)
    event = ConversationEvent.objects.get(type="transferred")
    assert event.data["reason"] == "wrong topic: courier"
    assert (event.data["from_user"], event.data["to_team"]) == (operator.pk, delivery.pk)
    # it left the operator's sight and reached the other team's
    assert not visible_conversations(operator).filter(pk=conversation.pk).exists()
    assert conversation_for(outsider, conversation.pk)


def test_transfer_needs_a_reason_and_a_target(operator, conversation, delivery) -> None:
    with pytest.raises(ValidationError):
        svc.conversation_transfer(
            conversation=conversation, actor=operator, team=delivery, reason=" "
        )
    with pytest.raises(ValidationError):
        svc.conversation_transfer(conversation=conversation, actor=operator, reason="why")
    assert not ConversationEvent.objects.filter(type="transferred").exists()


def test_close_reopen_priority_are_audited(operator, conversation) -> None:
    svc.conversation_set_priority(conversation=conversation, priority=2, actor=operator)
    svc.conversation_close(conversation=conversation, actor=operator)
    svc.conversation_close(conversation=conversation, actor=operator)
    svc.conversation_reopen(conversation=conversation, actor=operator)

    types = list(
        ConversationEvent.objects.filter(conversation=conversation).values_list("type", flat=True)
    )
    assert types == ["created", "priority", "closed", "reopened"]
    with pytest.raises(ValidationError):
        svc.conversation_set_priority(conversation=conversation, priority=7, actor=operator)


def test_a_deleted_conversation_is_hidden_and_only_restorers_bring_it_back(
    operator, admin_user, conversation
) -> None:
    svc.conversation_delete(conversation=conversation, actor=operator, reason="spam")

    assert not visible_conversations(operator).filter(pk=conversation.pk).exists()
    assert not visible_conversations(admin_user).filter(pk=conversation.pk).exists()
    assert visible_conversations(admin_user, include_deleted=True).filter(pk=conversation.pk)
    assert not visible_conversations(operator, include_deleted=True).filter(pk=conversation.pk)
    with pytest.raises(PermissionDenied):
        svc.conversation_restore(conversation=conversation, actor=operator)

    svc.conversation_restore(conversation=conversation, actor=admin_user)

    conversation.refresh_from_db()
    assert conversation.deleted_at is None
    assert conversation.messages.count() == 1  # nothing was lost
    assert [e.type for e in conversation.events.all()][-2:] == ["deleted", "restored"]


def test_actions_on_a_deleted_conversation_are_refused(operator, conversation) -> None:
    svc.conversation_delete(conversation=conversation, actor=operator)
    with pytest.raises(svc.ActionRefused):
        svc.conversation_take(conversation=conversation, actor=operator)


def test_a_deleted_conversation_is_neither_unsnoozed_nor_swept_awake(
    operator, admin_user, support_inbox
) -> None:
    from datetime import UTC, datetime, timedelta

    import time_machine

    conversation = factories.make_conversation(inbox=support_inbox, assignee=operator)
    start = datetime(2026, 3, 1, 9, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        svc.conversation_snooze(
            conversation=conversation, actor=operator, until=start + timedelta(hours=1)
        )
        svc.conversation_delete(conversation=conversation, actor=operator)
        clock.shift(timedelta(hours=2))

        assert svc.conversations_wake_due() == 0
        with pytest.raises(svc.ActionRefused):
            svc.conversation_unsnooze(conversation=conversation, actor=admin_user)

    assert Conversation.objects.get(pk=conversation.pk).status == "snoozed"
    assert not ConversationEvent.objects.filter(type="woke").exists()
