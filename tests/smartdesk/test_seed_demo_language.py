"""The demo's customers speak their languages: those who write Russian are named in Cyrillic
and known to speak Russian, so `/hel` offers them the Russian greeting with their name as it
is written."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import translation

from accounts.models import User
from chats.models import Conversation
from smartdesk.management.commands.seed_demo import DEMO_PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _language_restored():
    """A signed-in request activates the operator's language in this thread: put it back."""
    with translation.override(translation.get_language()):
        yield


@override_settings(DEBUG=True)
def test_russian_demo_customers_have_cyrillic_names_and_get_the_russian_greeting() -> None:
    call_command("seed_demo", stdout=io.StringIO())
    sveta = Conversation.objects.get(customer__identities__value="svetlana@example.com")
    john = Conversation.objects.get(customer__identities__value="john.smith@example.com")

    assert (sveta.customer.first_name, sveta.customer.language) == ("Светлана", "ru")
    assert john.customer.language == "en"
    anna = User.objects.get(username="anna")
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    assert client.login(username=anna.username, password=DEMO_PASSWORD)
    html = client.get(f"/inbox/c/{sveta.pk}/templates/?q=hel").content.decode()
    first = re.findall(r'data-text="([^"]*)"', html)[0]
    assert first.startswith("Здравствуйте, Светлана!")
