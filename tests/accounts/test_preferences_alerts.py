"""The alert preferences: the preferences form saves them, groups them, and every
page hands them to static/js/alerts.js; a customer message's live event says whose
conversation it is, so a page knows "one of mine" without asking the server."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from accounts.forms import PreferencesForm
from accounts.models import OperatorProfile
from chats.models import Inbox
from smartdesk.core.models import LiveEvent
from tests import factories

pytestmark = pytest.mark.django_db

DISPLAY = {"language": "", "time_zone": "UTC", "font_scale": "100"}


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _alerts_script(page: str) -> str:
    match = re.search(r'<script[^>]*id="alerts-script"[^>]*>', page)
    assert match, "alerts.js is not on the page"
    return match.group(0)


def test_the_alert_preferences_are_saved(operator) -> None:
    response = _client(operator).post(
        "/accounts/preferences/",
        {**DISPLAY, "alert_sound": "on", "alert_desktop": "on", "reduced_distraction": "on"},
    )

    assert response.status_code == 302
    profile = OperatorProfile.objects.get(user=operator)
    assert (
        profile.alert_sound,
        profile.alert_desktop,
        profile.alert_title_count,  # unticked: off
        profile.reduced_distraction,
        profile.keyboard_shortcuts,  # unticked: off
    ) == (True, True, False, True, False)


def test_switching_the_alerts_off_again_is_saved(operator) -> None:
    client = _client(operator)
    client.post("/accounts/preferences/", {**DISPLAY, "alert_sound": "on", "alert_desktop": "on"})

    response = client.post(
        "/accounts/preferences/",
        {**DISPLAY, "alert_title_count": "on", "keyboard_shortcuts": "on"},
    )

    assert response.status_code == 302
    profile = OperatorProfile.objects.get(user=operator)
    assert (profile.alert_sound, profile.alert_desktop, profile.alert_title_count) == (
        False,
        False,
        True,
    )
    assert profile.keyboard_shortcuts is True


def test_the_form_groups_its_fields_under_display_alerts_and_keyboard(operator) -> None:
    form = PreferencesForm(instance=OperatorProfile.objects.get(user=operator))

    groups = [(str(legend), [f.name for f in fields]) for legend, fields in form.groups()]

    assert groups == [
        ("Display", ["language", "time_zone", "font_scale", "high_contrast", "reduced_motion"]),
        (
            "Alerts",
            ["alert_sound", "alert_desktop", "alert_title_count", "reduced_distraction"],
        ),
        ("Keyboard", ["keyboard_shortcuts"]),
    ]
    grouped = [name for _legend, fields in groups for name in fields]
    assert sorted(grouped) == sorted(PreferencesForm.Meta.fields)


def test_the_page_shows_each_group_as_a_fieldset_with_a_legend(operator) -> None:
    page = _client(operator).get("/accounts/preferences/").content.decode()

    assert page.count("<fieldset") == 3
    for legend in ("Display", "Alerts", "Keyboard"):
        assert re.search(rf"<legend[^>]*>\s*{legend}\s*</legend>", page)
    assert 'id="alerts-enable-desktop"' in page  # the only place permission is asked for


def test_every_page_hands_the_alert_settings_to_the_script(operator) -> None:
    client = _client(operator)
    client.post(
        "/accounts/preferences/",
        {**DISPLAY, "alert_sound": "on", "alert_desktop": "on", "alert_title_count": "on"},
    )

    tag = _alerts_script(client.get("/").content.decode())

    assert f'data-user-id="{operator.pk}"' in tag
    assert 'data-sound="1"' in tag and 'data-desktop="1"' in tag and 'data-title="1"' in tag
    assert 'data-text-message="New message: {name}"' in tag


def test_reduced_distraction_silences_every_alert_on_the_page(operator) -> None:
    client = _client(operator)
    client.post(
        "/accounts/preferences/",
        {
            **DISPLAY,
            "alert_sound": "on",
            "alert_desktop": "on",
            "alert_title_count": "on",
            "reduced_distraction": "on",
        },
    )

    tag = _alerts_script(client.get("/").content.decode())

    assert 'data-sound=""' in tag and 'data-desktop=""' in tag and 'data-title=""' in tag


def test_a_customer_message_event_names_the_conversation_s_assignee(
    operator, support_inbox: Inbox
) -> None:
    conversation = factories.make_conversation(inbox=support_inbox, assignee=operator)
    LiveEvent.objects.all().delete()

    factories.receive(conversation, "Курьер у двери?")

    created = LiveEvent.objects.get(type="message.created")
    assert created.payload["kind"] == "inbound"
    assert created.payload["assignee_id"] == operator.pk


def test_a_message_in_the_queue_names_no_assignee(support_inbox: Inbox, operator) -> None:
    conversation = factories.make_conversation(inbox=support_inbox)
    LiveEvent.objects.all().delete()

    factories.receive(conversation, "Есть кто?")

    created = LiveEvent.objects.get(type="message.created")
    assert created.payload["assignee_id"] is None


def test_the_api_tells_a_client_the_operator_s_alert_preferences(operator) -> None:
    client = _client(operator)
    client.post("/accounts/preferences/", {**DISPLAY, "alert_sound": "on"})

    data = client.get("/api/v1/me/").json()

    assert {
        name: data[name]
        for name in (
            "alert_sound",
            "alert_desktop",
            "alert_title_count",
            "reduced_distraction",
            "keyboard_shortcuts",
        )
    } == {
        "alert_sound": True,
        "alert_desktop": False,
        "alert_title_count": False,
        "reduced_distraction": False,
        "keyboard_shortcuts": False,
    }
