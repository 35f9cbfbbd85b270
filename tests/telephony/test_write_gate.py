"""The gate's write form on telephony: the call card's actions — one-click
customer, note, follow-up conversation — and click-to-call are writes.

A reporting role (scope `all`, statistics and exports, no `handle_conversations`) sees every
call and card and is refused each of them with a 403 (a page for the card's forms, JSON for
click-to-call) and nothing changes; a user who cannot see the call or the customer gets 404,
as on reads; an acting role gets past the gate with the same requests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from chats.models import Conversation, ConversationEvent
from customers.models import Customer
from telephony.models import Call, Pbx
from tests import factories
from tests.telephony.conftest import set_extension

pytestmark = pytest.mark.django_db


@dataclass
class World:
    known: Call  # Anna's call with a known customer (who has a conversation)
    unknown: Call  # Anna's call from a number nobody has yet


def _call(pbx: Pbx, operator: User, caller: str, customer: Customer | None) -> Call:
    return Call.objects.create(
        pbx=pbx,
        linkedid=f"l-{caller}",
        uniqueid=f"u-{caller}",
        direction=Call.Direction.INBOUND,
        caller=caller,
        caller_raw=caller,
        customer=customer,
        operator=operator,
        state=Call.State.COMPLETED,
        started_at=timezone.now(),
    )


@pytest.fixture
def world(pbx, operator, support_inbox) -> World:
    customer = factories.make_customer("Svetlana", phone="+79161234567")
    factories.make_conversation(inbox=support_inbox, customer=customer, assignee=operator)
    return World(
        known=_call(pbx, operator, "+79161234567", customer),
        unknown=_call(pbx, operator, "+79160000001", None),
    )


@dataclass(frozen=True)
class Write:
    name: str
    url: Callable[[World], str]
    body: Callable[[World], dict[str, Any]]
    json: bool = False  # click-to-call answers JSON; the card's forms answer a page


WRITES = [
    Write(
        "create customer",
        lambda w: f"/telephony/calls/{w.unknown.pk}/customer/",
        lambda w: {"first_name": "Irina", "last_name": "K"},
    ),
    Write(
        "note",
        lambda w: f"/telephony/calls/{w.known.pk}/note/",
        lambda w: {"note": "Wants a refund"},
    ),
    Write("follow-up", lambda w: f"/telephony/calls/{w.known.pk}/follow-up/", lambda w: {}),
    Write(
        "dial",
        lambda w: "/telephony/dial/",
        lambda w: {"customer": w.known.customer_id},
        json=True,
    ),
]


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _snapshot() -> dict[str, list[dict[str, Any]]]:
    return {
        model.__name__: list(model.objects.order_by("pk").values())
        for model in (Call, Customer, Conversation, ConversationEvent)
    }


@pytest.mark.parametrize("write", WRITES, ids=[w.name for w in WRITES])
def test_a_reporting_role_is_refused_every_telephony_write(reporter, world, write) -> None:
    before = _snapshot()

    response = _client(reporter).post(write.url(world), write.body(world))

    assert response.status_code == 403, (write.name, response.status_code)
    if write.json:
        assert response["Content-Type"].startswith("application/json")
        assert response.json()["detail"]
    else:
        assert response["Content-Type"].startswith("text/html")
    assert _snapshot() == before


@pytest.mark.parametrize("write", WRITES, ids=[w.name for w in WRITES])
def test_out_of_scope_stays_a_404(outsider, world, write) -> None:
    """Vera (another team, never rung) gets 'no such call/customer', not a 403 that would
    confirm it exists."""
    before = _snapshot()

    response = _client(outsider).post(write.url(world), write.body(world))

    assert response.status_code == 404, (write.name, response.status_code)
    assert _snapshot() == before


@pytest.mark.parametrize("write", WRITES, ids=[w.name for w in WRITES])
def test_the_operator_gets_past_the_gate_with_the_same_requests(operator, world, write) -> None:
    """The control: the table's requests are writes the gate lets an acting role make (the
    action may still refuse, e.g. click-to-call without an extension: 400, never 403/404)."""
    response = _client(operator).post(write.url(world), write.body(world))

    assert response.status_code not in (403, 404), (write.name, response.status_code)


def test_the_reporting_role_still_sees_the_call_card(reporter, world) -> None:
    response = _client(reporter).get(f"/telephony/calls/{world.known.pk}/card/")

    assert response.status_code == 200
    assert "Svetlana" in response.content.decode()


def test_the_call_card_offers_its_forms_only_to_a_role_that_acts(reporter, operator, world):
    url = f"/telephony/calls/{world.known.pk}/card/"

    looked = _client(reporter).get(url).content.decode()
    worked = _client(operator).get(url).content.decode()

    for form in ("call-note", "call-followup"):
        assert f'class="{form}"' in worked
        assert f'class="{form}"' not in looked


def test_the_customer_card_offers_a_reporting_role_no_call_action(
    reporter, operator, world
) -> None:
    """Click-to-call and the follow-up buttons of the card's call history are writes: not
    offered to a role that only looks, even with a phone extension; offered to the operator."""
    set_extension(reporter, "PJSIP/109")
    set_extension(operator, "PJSIP/101")
    conversation = Conversation.objects.get(customer=world.known.customer)
    url = reverse("conversation-panel", args=[conversation.pk]) + "?part=card"

    looked = _client(reporter).get(url).content.decode()
    worked = _client(operator).get(url).content.decode()

    assert "Call the customer" in worked
    assert "Open a follow-up conversation" in worked  # Anna's call, in the card's history
    assert "Call the customer" not in looked
    assert "Open a follow-up conversation" not in looked
