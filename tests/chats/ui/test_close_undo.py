"""Undo for close in the workspace: the offer right after a close, the undo itself through the
write gate, and a clear refusal once the window has passed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.urls import reverse

from chats.models import Conversation
from chats.services import conversations as conversation_services
from tests.chats.ui.conftest import HTMX, page_text, refreshed

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("_window")]


@pytest.fixture
def _window(settings) -> None:
    settings.CLOSE_UNDO_SECONDS = 10  # the test settings have no undo window


Status = Conversation.Status


def url(name: str, conversation: Conversation) -> str:
    return reverse(f"conversation-{name}", args=[conversation.pk])


def test_the_closed_thread_offers_undo(client_for, operator, conversation) -> None:
    response = client_for(operator).post(url("close", conversation), headers=HTMX)

    assert response.status_code == 200
    html = page_text(response)
    assert 'id="close-undo"' in html
    assert "Conversation closed." in html
    assert f'action="{url("undo-close", conversation)}' in html
    assert 'id="action-undo-close"' in html


def test_undo_restores_the_conversation(client_for, operator, conversation) -> None:
    client = client_for(operator)
    client.post(url("close", conversation))

    response = client.post(url("undo-close", conversation))

    assert response.status_code == 302
    fresh = refreshed(conversation)
    assert (fresh.status, fresh.assignee_id) == (Status.OPEN, operator.pk)


def test_no_undo_offer_once_the_window_has_passed(client_for, operator, conversation) -> None:
    conversation_services.conversation_close(conversation=conversation, actor=operator)
    Conversation.objects.filter(pk=conversation.pk).update(
        closed_at=refreshed(conversation).closed_at - timedelta(seconds=60)
    )

    html = page_text(client_for(operator).get(reverse("conversation", args=[conversation.pk])))

    assert 'id="action-undo-close"' not in html


@override_settings(CLOSE_UNDO_SECONDS=10)
def test_undo_after_the_window_is_a_409_with_the_reason(client_for, operator, conversation):
    conversation_services.conversation_close(conversation=conversation, actor=operator)
    Conversation.objects.filter(pk=conversation.pk).update(
        closed_at=refreshed(conversation).closed_at - timedelta(seconds=60)
    )

    response = client_for(operator).post(url("undo-close", conversation), headers=HTMX)

    assert response.status_code == 409
    assert "reopen" in page_text(response).lower()
    assert refreshed(conversation).status == Status.CLOSED


def test_undo_by_someone_who_does_not_see_it_is_a_404(client_for, operator, outsider, conversation):
    conversation_services.conversation_close(conversation=conversation, actor=operator)

    response = client_for(outsider).post(url("undo-close", conversation))

    assert response.status_code == 404
    assert refreshed(conversation).status == Status.CLOSED


def test_undo_by_a_role_that_may_not_act_is_a_403(client_for, operator, reporter, conversation):
    conversation_services.conversation_close(conversation=conversation, actor=operator)

    response = client_for(reporter).post(url("undo-close", conversation))

    assert response.status_code == 403
    assert refreshed(conversation).status == Status.CLOSED


def test_undo_only_by_post(client_for, operator, conversation) -> None:
    conversation_services.conversation_close(conversation=conversation, actor=operator)

    assert client_for(operator).get(url("undo-close", conversation)).status_code == 405
