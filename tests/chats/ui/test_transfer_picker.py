"""The transfer picker: teams and the online operators who may take the conversation, with
their presence, load and capacity, most room first; gated like the transfer itself."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import OperatorProfile, Role
from chats.models import Conversation
from tests import factories
from tests.chats.ui.conftest import HTMX, page_text

pytestmark = pytest.mark.django_db


def url(conversation: Conversation, query: str = "") -> str:
    return reverse("conversation-transfer-picker", args=[conversation.pk]) + query


def online(user, *, load: int = 0, capacity: int = 5) -> None:
    OperatorProfile.objects.filter(user=user).update(
        presence=OperatorProfile.Presence.ONLINE, load=load, capacity=capacity
    )


def operator_names(html: str) -> list[str]:
    return re.findall(r'data-operator="\d+"[^>]*data-name="([^"]+)"', html)


@pytest.fixture
def floor(roles, support, delivery, operator, teammate, outsider, reporter, super_admin):
    online(operator, load=1, capacity=5)
    online(teammate, load=4, capacity=5)
    online(outsider, load=0, capacity=5)
    online(reporter)  # a reporting role: never a target
    carl = factories.make_user(username="carl", role=roles[Role.OPERATOR], teams=[support])
    # carl is offline
    archived = factories.make_role(name="Old shift", slug="old-shift")
    dora = factories.make_user(username="dora", role=archived, teams=[support])
    online(dora)
    archived.archived_at = timezone.now()
    archived.save(update_fields=["archived_at"])
    return {"carl": carl, "dora": dora}


def test_lists_teams_and_online_operators_by_free_capacity(
    client_for, operator, conversation, floor
):
    response = client_for(operator).get(url(conversation), headers=HTMX)

    assert response.status_code == 200
    html = page_text(response)
    # vera has 5 free, boris 1; anna has it already; carl is offline; bianca and dora may not
    # take conversations; sofia (super-admin) is offline
    assert operator_names(html) == ["vera", "boris"]
    assert 'data-team="' in html and "Support" in html and "Delivery" in html
    assert "4/5" in html  # boris's load and capacity
    assert "Online" in html
    assert 'role="listbox"' in html and 'role="combobox"' in html


def test_type_to_filter(client_for, operator, conversation, floor):
    html = page_text(client_for(operator).get(url(conversation, "?q=bor"), headers=HTMX))

    assert operator_names(html) == ["boris"]
    assert "Delivery" not in html


def test_an_online_super_admin_is_listed_only_while_the_role_handles_conversations(
    client_for, operator, conversation, floor, super_admin
):
    online(super_admin)
    assert "sofia" in operator_names(page_text(client_for(operator).get(url(conversation))))

    Role.objects.filter(slug=Role.SUPER_ADMIN).update(can_handle_conversations=False)
    assert "sofia" not in operator_names(page_text(client_for(operator).get(url(conversation))))


def test_outside_the_scope_is_a_404(client_for, outsider, conversation, floor):
    assert client_for(outsider).get(url(conversation)).status_code == 404


def test_a_role_that_may_not_act_gets_a_403(client_for, reporter, conversation, floor):
    assert client_for(reporter).get(url(conversation)).status_code == 403


def test_bad_input_is_a_400(client_for, operator, conversation, floor):
    response = client_for(operator).get(url(conversation, "?q=" + "x" * 300), headers=HTMX)

    assert response.status_code == 400


def test_the_thread_loads_the_picker_and_keeps_a_plain_form(client_for, operator, conversation):
    html = page_text(client_for(operator).get(reverse("conversation", args=[conversation.pk])))

    assert f'hx-get="{url(conversation)}"' in html
    assert 'aria-keyshortcuts="t"' in html
    # without JavaScript the selects stay
    assert 'name="operator"' in html and 'name="team"' in html
