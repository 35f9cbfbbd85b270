"""The call card behind the screen-pop (gated like conversations: 404 when not yours), the
one-click customer, the note, the calls in the customer's card, click-to-call, the admin."""

from __future__ import annotations

import asyncio
import threading

import pytest
from django.test import Client

from telephony.models import Call, CallOffer, Pbx
from telephony.services import call_event_apply
from tests import factories
from tests.telephony.conftest import set_extension
from tests.telephony.simulator import AmiSimulator, queue_call

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def rung_call(pbx, anna) -> Call:
    """A call ringing Anna (queued, offered to her), not answered yet."""
    events = queue_call(caller="+79161234567")
    for fields in events[:6]:
        call_event_apply(pbx_id=pbx.pk, fields={k: str(v) for k, v in fields.items()})
    call = Call.objects.get()
    assert CallOffer.objects.filter(call=call, operator=anna).exists()
    return call


def test_the_rung_operator_and_an_admin_see_the_card_others_get_404(
    rung_call, anna, boris, outsider, admin_user
) -> None:
    customer = factories.make_customer("Svetlana", "Orlova", phone="+79161234567")
    Call.objects.filter(pk=rung_call.pk).update(customer=customer)
    url = f"/telephony/calls/{rung_call.pk}/card/"
    mine = _client(anna).get(url)
    assert mine.status_code == 200
    html = mine.content.decode()
    assert "Svetlana Orlova" in html and 'id="customer-card"' in html
    assert _client(admin_user).get(url).status_code == 200
    assert _client(boris).get(url).status_code == 404
    assert _client(outsider).get(url).status_code == 404
    assert Client().get(url).status_code == 302  # to the login page


def test_an_unknown_caller_is_created_in_one_click_and_linked(rung_call, anna) -> None:
    client = _client(anna)
    card = client.get(f"/telephony/calls/{rung_call.pk}/card/").content.decode()
    assert "Unknown caller" in card and "Create customer" in card
    response = client.post(
        f"/telephony/calls/{rung_call.pk}/customer/", {"first_name": "Irina", "last_name": "K"}
    )
    assert response.status_code == 200
    rung_call.refresh_from_db()
    assert rung_call.customer is not None and rung_call.customer.name == "Irina K"
    assert rung_call.customer.identities.get().value == "+79161234567"
    assert "Irina K" in response.content.decode()


def test_a_note_on_the_call_shows_in_the_customers_card(rung_call, anna, support_inbox) -> None:
    customer = factories.make_customer("Svetlana", phone="+79161234567")
    Call.objects.filter(pk=rung_call.pk).update(customer=customer)
    client = _client(anna)
    response = client.post(f"/telephony/calls/{rung_call.pk}/note/", {"note": "Wants a refund"})
    assert response.status_code == 200
    assert Call.objects.get().note == "Wants a refund"
    too_long = client.post(f"/telephony/calls/{rung_call.pk}/note/", {"note": "x" * 5001})
    assert too_long.status_code == 400

    # the conversation side panel's card lists the customer's calls with the note
    conversation = factories.make_conversation(
        inbox=support_inbox, customer=customer, assignee=anna
    )
    panel = client.get(f"/inbox/c/{conversation.pk}/panel/", {"part": "card"})
    assert panel.status_code == 200
    html = panel.content.decode()
    assert "Calls (1)" in html and "Wants a refund" in html
    assert "Call the customer" in html  # Anna has an extension: click-to-call is offered


class _SimulatorThread:
    """The AMI simulator on its own loop in a thread: the click-to-call task is synchronous."""

    def __init__(self) -> None:
        self.sim = AmiSimulator()
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.sim.start())
        self.ready.set()
        self.loop.run_forever()

    def __enter__(self) -> AmiSimulator:
        self.thread.start()
        self.ready.wait(5)
        return self.sim

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.sim.stop(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def test_click_to_call_rings_the_operator_then_dials_the_customer(
    pbx, anna, support_inbox, django_capture_on_commit_callbacks
) -> None:
    customer = factories.make_customer("Svetlana", phone="+79161234567")
    factories.make_conversation(inbox=support_inbox, customer=customer, assignee=anna)
    with _SimulatorThread() as sim:
        Pbx.objects.filter(pk=pbx.pk).update(port=sim.port, dial_prefix="00")
        with django_capture_on_commit_callbacks(execute=True):
            response = _client(anna).post("/telephony/dial/", {"customer": customer.pk})
    assert response.status_code == 202, response.content
    call = Call.objects.get()
    assert (call.direction, call.operator, call.customer, call.caller) == (
        "outbound",
        anna,
        customer,
        "+79161234567",
    )
    [originate] = [a for a in sim.actions if a["Action"] == "Originate"]
    assert originate["Channel"] == "PJSIP/101"
    assert originate["Exten"] == "0079161234567"
    assert originate["Context"] == "from-smartdesk"
    assert originate["Async"] == "true"
    assert originate["ChannelId"] == call.linkedid
    # the PBX repeats the ActionID in OriginateResponse: how a failure finds this call
    assert originate["ActionID"] == call.linkedid
    assert [a["Action"] for a in sim.actions] == ["Login", "Originate", "Logoff"]


def test_click_to_call_refuses_clearly(pbx, anna, boris, support_inbox) -> None:
    customer = factories.make_customer("Svetlana", phone="+79161234567")
    stranger = factories.make_customer("Nobody", phone="+79161230000")
    factories.make_conversation(inbox=support_inbox, customer=customer, assignee=anna)
    client = _client(anna)
    # a customer Anna cannot see: as if it did not exist
    assert client.post("/telephony/dial/", {"customer": stranger.pk}).status_code in (404,)
    set_extension(anna, "")
    refused = client.post("/telephony/dial/", {"customer": customer.pk})
    assert refused.status_code == 400 and "extension" in refused.json()["detail"]
    assert client.post("/telephony/dial/", {"customer": "x"}).status_code == 400
    assert not Call.objects.exists()


def test_the_admin_never_shows_the_ami_secret_back(pbx, super_admin) -> None:
    client = _client(super_admin)
    page = client.get(f"/admin/telephony/pbx/{pbx.pk}/change/").content.decode()
    assert "s3cret" not in page and "…et" in page
    # saving without a new secret keeps the old one
    response = client.post(
        f"/admin/telephony/pbx/{pbx.pk}/change/",
        {
            "name": "Main",
            "host": "127.0.0.1",
            "port": "5038",
            "username": "smartdesk",
            "new_secret": "",
            "is_active": "on",
            "originate_context": "from-smartdesk",
            "dial_prefix": "",
        },
    )
    assert response.status_code == 302
    assert Pbx.objects.get().secret == "s3cret"
