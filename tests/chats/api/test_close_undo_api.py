"""POST /api/v1/conversations/<id>/undo-close/: the API's undo for a close."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chats.models import Conversation
from chats.services.conversations import conversation_assign, conversation_close

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("_window")]


@pytest.fixture
def _window(settings) -> None:
    settings.CLOSE_UNDO_SECONDS = 10  # the test settings have no undo window


def undo(client, conversation: Conversation):
    return client.post(f"/api/v1/conversations/{conversation.pk}/undo-close/", {}, format="json")


def test_undo_within_the_window(api, operator, support_conversation) -> None:
    conversation_assign(conversation=support_conversation, operator=operator, actor=operator)
    conversation_close(conversation=support_conversation, actor=operator)

    response = undo(api(operator), support_conversation)

    assert response.status_code == 200
    assert response.json()["status"] == "open"
    fresh = Conversation.objects.get(pk=support_conversation.pk)
    assert (fresh.status, fresh.assignee_id) == ("open", operator.pk)


def test_undo_after_the_window_is_a_409(api, operator, support_conversation) -> None:
    conversation_close(conversation=support_conversation, actor=operator)
    Conversation.objects.filter(pk=support_conversation.pk).update(
        closed_at=Conversation.objects.get(pk=support_conversation.pk).closed_at
        - timedelta(minutes=5)
    )

    response = undo(api(operator), support_conversation)

    assert response.status_code == 409
    assert Conversation.objects.get(pk=support_conversation.pk).status == "closed"


def test_undo_outside_the_scope_is_a_404(api, operator, outsider, support_conversation) -> None:
    conversation_close(conversation=support_conversation, actor=operator)

    assert undo(api(outsider), support_conversation).status_code == 404
    assert Conversation.objects.get(pk=support_conversation.pk).status == "closed"
