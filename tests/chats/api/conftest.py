"""Clients and conversations for the chats API tests.

`support_conversation` belongs to the Support team (operator, teammate and the admins see it);
`delivery_conversation` to Delivery (the outsider and the admins see it).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from chats.models import Conversation, Inbox
from tests import factories


@pytest.fixture
def api() -> Callable[[User | None], APIClient]:
    """`api(user)`: a client signed in with a session as `user`; `api(None)`: anonymous."""

    def client_for(user: User | None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_login(user)
        return client

    return client_for


@pytest.fixture
def support_conversation(support_inbox: Inbox) -> Conversation:
    return factories.make_conversation(inbox=support_inbox, text="My order 1042 is late")


@pytest.fixture
def delivery_conversation(delivery_inbox: Inbox) -> Conversation:
    return factories.make_conversation(inbox=delivery_inbox, text="Courier cannot find me")
