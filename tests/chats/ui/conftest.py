"""Fixtures for the operator pages: a conversation in each team, clients per persona."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from accounts.models import User
from chats.models import Conversation, Inbox
from tests import factories

HTMX = {"HX-Request": "true"}


@pytest.fixture
def client_for(db: None) -> Callable[[User], Client]:
    def make(user: User) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def conversation(support_inbox: Inbox, operator: User) -> Conversation:
    """Svetlana's conversation in the support team, assigned to the operator."""
    return factories.make_conversation(
        inbox=support_inbox,
        customer=factories.make_customer("Svetlana", "Morozova", email="sveta@example.com"),
        text="Можно ролл без кунжута?",
        assignee=operator,
    )


@pytest.fixture
def foreign(delivery_inbox: Inbox) -> Conversation:
    """A conversation of the delivery team: the operator and teammate must not see it."""
    return factories.make_conversation(
        inbox=delivery_inbox,
        customer=factories.make_customer("Oleg", phone="+7 900 000-11-22"),
        text="Where is the courier?",
    )


def refreshed(conversation: Conversation) -> Conversation:
    return Conversation.objects.get(pk=conversation.pk)


def page_text(response: Any) -> str:
    return response.content.decode()
