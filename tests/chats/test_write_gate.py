"""The gate's write form: what a user may *see* and what they may *act on* differ.

A reporting role (scope `all`, statistics and exports, no `handle_conversations`) sees every
conversation and every card, and is refused every write: each page action, each API action and
customer-level write answers 403 (it sees the object, so a 404 would lie) — JSON on the API —
and nothing in the database changes. The same requests by an admin get past the gate, so the
table is known to name real, well-formed writes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import Role, User
from chats.models import Conversation, ConversationEvent, Message
from chats.selectors import (
    actionable_conversations,
    conversation_for,
    customer_for,
    visible_conversations,
)
from customers import loyalty
from customers.models import GoodwillRequest, LoyaltyTransaction
from smartdesk.core.models import LiveEvent
from tests import factories

pytestmark = pytest.mark.django_db


@dataclass
class World:
    conversation: Conversation
    message: Message
    goodwill_request: GoodwillRequest
    support_team_id: int


@pytest.fixture
def world(operator, support, support_inbox) -> World:
    conversation = factories.make_conversation(inbox=support_inbox, assignee=operator)
    message = factories.receive(conversation, "And the soup was cold")
    # A request above the operator's limit, for the decision endpoint.
    pending = loyalty.goodwill_grant(
        customer=conversation.customer,
        points=5000,
        reason="Wrong order twice",
        actor=operator,
        conversation_id=conversation.pk,
    ).request
    assert pending is not None
    return World(
        conversation=Conversation.objects.get(pk=conversation.pk),
        message=message,
        goodwill_request=pending,
        support_team_id=support.pk,
    )


@dataclass(frozen=True)
class Write:
    """One write endpoint: how to call it, given the world."""

    name: str
    kind: str  # "page" (form POST, session) or "api" (JSON)
    method: str
    url: Callable[[World], str]
    body: Callable[[World], dict[str, Any]] = lambda w: {}


def _c(name: str) -> Callable[[World], str]:
    return lambda w: reverse(name, args=[w.conversation.pk])


PAGE_WRITES = [
    Write(
        "page send",
        "page",
        "post",
        _c("conversation-send"),
        lambda w: {"kind": "reply", "body": "Hi"},
    ),
    Write("page read", "page", "post", _c("conversation-read")),
    Write("page take", "page", "post", _c("conversation-take")),
    Write("page unassign", "page", "post", _c("conversation-unassign")),
    Write(
        "page transfer",
        "page",
        "post",
        _c("conversation-transfer"),
        lambda w: {"team": w.support_team_id, "reason": "Wrong team"},
    ),
    Write("page priority", "page", "post", _c("conversation-priority"), lambda w: {"priority": 2}),
    Write("page snooze", "page", "post", _c("conversation-snooze"), lambda w: {"preset": "1h"}),
    Write("page unsnooze", "page", "post", _c("conversation-unsnooze")),
    Write("page close", "page", "post", _c("conversation-close")),
    Write("page reopen", "page", "post", _c("conversation-reopen")),
    Write("page delete", "page", "post", _c("conversation-delete"), lambda w: {"reason": "x"}),
    Write("page restore", "page", "post", _c("conversation-restore")),
    Write(
        "page message delete",
        "page",
        "post",
        lambda w: reverse("message-delete", args=[w.message.pk]),
    ),
    Write(
        "page goodwill",
        "page",
        "post",
        _c("conversation-goodwill"),
        lambda w: {"points": 10, "reason": "Sorry"},
    ),
]

API_WRITES = [
    Write(
        "api message",
        "api",
        "post",
        _c("api-conversation-messages"),
        lambda w: {"kind": "reply", "body": "Hi"},
    ),
    Write("api assign", "api", "post", _c("api-conversation-assign")),
    Write("api unassign", "api", "post", _c("api-conversation-unassign")),
    Write(
        "api transfer",
        "api",
        "post",
        _c("api-conversation-transfer"),
        lambda w: {"team": w.support_team_id, "reason": "Wrong team"},
    ),
    Write(
        "api priority",
        "api",
        "post",
        _c("api-conversation-priority"),
        lambda w: {"priority": "urgent"},
    ),
    Write("api snooze", "api", "post", _c("api-conversation-snooze"), lambda w: {"preset": "1h"}),
    Write("api unsnooze", "api", "post", _c("api-conversation-unsnooze")),
    Write("api close", "api", "post", _c("api-conversation-close")),
    Write("api reopen", "api", "post", _c("api-conversation-reopen")),
    Write("api delete", "api", "post", _c("api-conversation-delete"), lambda w: {"reason": "x"}),
    Write("api restore", "api", "post", _c("api-conversation-restore")),
    Write(
        "api message delete",
        "api",
        "delete",
        lambda w: reverse("api-message", args=[w.message.pk]),
    ),
    Write(
        "api loyalty adjust",
        "api",
        "post",
        lambda w: reverse("api-loyalty-adjust", args=[w.conversation.customer_id]),
        lambda w: {"points": 100, "reason": "Old CRM"},
    ),
    Write(
        "api goodwill decision",
        "api",
        "post",
        lambda w: reverse("api-goodwill-decision", args=[w.goodwill_request.pk]),
        lambda w: {"approve": True},
    ),
]

WRITES = PAGE_WRITES + API_WRITES


def _call(user: User, write: Write, world: World) -> Any:
    url, body = write.url(world), write.body(world)
    if write.kind == "api":
        client = APIClient()
        client.force_login(user)
        return getattr(client, write.method)(url, body, format="json")
    client = APIClient()  # a Django test client underneath; form-encoded for pages
    client.force_login(user)
    return getattr(client, write.method)(url, body)


def _snapshot() -> dict[str, list[dict[str, Any]]]:
    return {
        model.__name__: list(model.objects.order_by("pk").values())
        for model in (
            Conversation,
            Message,
            ConversationEvent,
            LoyaltyTransaction,
            GoodwillRequest,
            LiveEvent,
        )
    }


@pytest.mark.parametrize("write", WRITES, ids=[w.name for w in WRITES])
def test_a_reporting_role_is_refused_every_write_and_nothing_changes(
    reporter, world, write
) -> None:
    before = _snapshot()

    response = _call(reporter, write, world)

    assert response.status_code == 403, (write.name, response.status_code)
    if write.kind == "api":
        assert response["Content-Type"].startswith("application/json")
        assert response.json()["detail"]
    assert _snapshot() == before


@pytest.mark.parametrize("write", WRITES, ids=[w.name for w in WRITES])
def test_an_admin_gets_past_the_gate_with_the_same_requests(admin_user, world, write) -> None:
    """The control: the table's requests are real writes the gate lets an acting role make
    (the action itself may still refuse a state, 409, or a pure no-op, but never 403/404)."""
    response = _call(admin_user, write, world)

    assert response.status_code not in (400, 403, 404), (write.name, response.status_code)


def test_the_reporting_role_still_sees_what_it_reports_on(reporter, world) -> None:
    conversation = world.conversation

    assert visible_conversations(reporter).filter(pk=conversation.pk).exists()
    assert not actionable_conversations(reporter).exists()
    assert conversation_for(reporter, conversation.pk) == conversation
    assert customer_for(reporter, conversation.customer_id) == conversation.customer
    client = APIClient()
    client.force_login(reporter)
    assert client.get(reverse("api-conversation", args=[conversation.pk])).status_code == 200
    assert client.get(reverse("conversation", args=[conversation.pk])).status_code == 200
    card = reverse("api-customer-card", args=[conversation.customer_id])
    assert client.get(card).status_code == 200


def test_a_conversation_outside_the_scope_stays_a_404_on_writes(outsider, world) -> None:
    """The write form does not turn 'not yours' into a 403 that confirms it exists."""
    client = APIClient()
    client.force_login(outsider)
    before = _snapshot()

    close = client.post(reverse("api-conversation-close", args=[world.conversation.pk]))
    page = client.post(reverse("conversation-close", args=[world.conversation.pk]))

    assert (close.status_code, page.status_code) == (404, 404)
    assert _snapshot() == before


def test_admin_restore_action_takes_only_what_the_user_may_act_on(world, admin_user) -> None:
    """The admin site's bulk action goes through the write form too: a role that may restore
    and see everything, but not act on conversations, restores nothing."""
    from chats.services.conversations import conversation_delete

    conversation_delete(conversation=world.conversation, actor=admin_user, reason="spam")
    looker = factories.make_role(
        name="Auditor",
        slug="auditor",
        scope=Role.Scope.ALL,
        can_use_admin=True,
        can_restore_conversations=True,
        can_handle_conversations=False,
    )
    auditor = factories.make_user(username="auditor", role=looker)
    client = APIClient()
    client.force_login(auditor)

    client.post(
        reverse("admin:chats_conversation_changelist"),
        {"action": "restore_selected", "_selected_action": [world.conversation.pk]},
    )

    assert Conversation.objects.get(pk=world.conversation.pk).deleted_at is not None
    client.force_login(admin_user)
    client.post(
        reverse("admin:chats_conversation_changelist"),
        {"action": "restore_selected", "_selected_action": [world.conversation.pk]},
    )
    assert Conversation.objects.get(pk=world.conversation.pk).deleted_at is None


def test_the_page_offers_a_reporting_role_no_action(reporter, operator, world) -> None:
    url = reverse("conversation", args=[world.conversation.pk])
    close = reverse("conversation-close", args=[world.conversation.pk])
    client = APIClient()

    client.force_login(reporter)
    looked = client.get(url).content.decode()
    client.force_login(operator)
    worked = client.get(url).content.decode()

    assert 'id="composer"' in worked and close in worked
    assert 'id="composer"' not in looked and close not in looked
    assert reverse("conversation-read", args=[world.conversation.pk]) not in looked
