from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.test import Client, override_settings

from accounts.models import AccessAuditEntry, OperatorProfile, Role, Skill, Team, User
from chats.models import Conversation, ConversationEvent, Inbox, Message, ReplyTemplate
from customers.models import Customer, Identity
from smartdesk.management.commands.seed_demo import DEMO_PASSWORD

pytestmark = pytest.mark.django_db


def _counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (
            User,
            OperatorProfile,
            Team,
            Skill,
            Role,
            AccessAuditEntry,
            Inbox,
            ReplyTemplate,
            Customer,
            Identity,
            Conversation,
            Message,
            ConversationEvent,
        )
    }


@override_settings(DEBUG=True)
def test_seed_demo_twice_gives_the_same_counts_and_prints_the_logins() -> None:
    first = io.StringIO()
    call_command("seed_demo", stdout=first)
    counts = _counts()
    second = io.StringIO()
    call_command("seed_demo", stdout=second)

    assert _counts() == counts
    assert counts["User"] == 7 and counts["Team"] == 3 and counts["Role"] == 3
    assert counts["Conversation"] == 6 and counts["Message"] > counts["Conversation"]
    assert set(Conversation.objects.values_list("status", flat=True)) == {
        "open",
        "snoozed",
        "closed",
    }
    assert DEMO_PASSWORD in first.getvalue()
    for username in ("superadmin", "admin", "anna"):
        assert username in first.getvalue()
    assert first.getvalue() == second.getvalue()


@override_settings(DEBUG=True)
def test_a_demo_operator_can_log_in() -> None:
    call_command("seed_demo", stdout=io.StringIO())
    client = Client()

    response = client.post("/accounts/login/", {"username": "anna", "password": DEMO_PASSWORD})

    assert response.status_code == 302
    home = client.get("/")
    assert home.status_code == 200
    assert "Anna" in home.content.decode()


def test_seed_demo_refuses_a_production_database_without_force() -> None:
    with pytest.raises(CommandError, match="DEBUG is off"):
        call_command("seed_demo", stdout=io.StringIO())
    assert User.objects.count() == 0

    out = io.StringIO()
    call_command("seed_demo", "--if-debug", stdout=out)
    assert "no demo data" in out.getvalue()
    assert User.objects.count() == 0
