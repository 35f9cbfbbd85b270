"""Presence: operators set it, the operator socket heartbeats, silence makes an operator away,
and the unanswered conversations of an away operator go back to the queue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from asgiref.sync import async_to_sync
from django.conf import settings
from django.urls import reverse

from accounts.models import OperatorProfile
from accounts.services import presence_expire, presence_set, team_save
from chats.models import Conversation, ConversationEvent
from chats.services import distribution
from smartdesk.core.models import LiveEvent
from tests import factories
from tests.chats.distribution.conftest import profile
from tests.live import operator_socket as _socket

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_silence_makes_an_online_operator_away_and_a_heartbeat_brings_them_back(
    operator, support_inbox, triggers
):
    from accounts.services import presence_heartbeat

    with time_machine.travel(T0, tick=False) as clock:
        presence_set(user=operator, presence="online")
        clock.shift(timedelta(seconds=settings.PRESENCE_AWAY_AFTER_SECONDS - 1))
        assert presence_expire() == []  # silent, but not yet for long enough: still online
        clock.shift(timedelta(seconds=2))
        assert presence_expire() == [operator.pk]
        assert (profile(operator).presence, profile(operator).away_by_timeout) == ("away", True)

        with triggers():
            waiting = factories.make_conversation(inbox=support_inbox)
        assert Conversation.objects.get(pk=waiting.pk).assignee is None  # away: not eligible

        with triggers():
            assert presence_heartbeat(user_id=operator.pk) is True

    assert profile(operator).presence == "online"
    assert Conversation.objects.get(pk=waiting.pk).assignee == operator  # back, so served


def test_a_heartbeat_does_not_undo_an_away_the_operator_chose(operator):
    from accounts.services import presence_heartbeat

    presence_set(user=operator, presence="away")
    assert presence_heartbeat(user_id=operator.pk) is False
    assert profile(operator).presence == "away"


def test_an_away_operators_unanswered_conversation_is_reassigned_with_a_notice(
    operator, teammate, support, support_inbox, triggers
):
    support.reassign_after_minutes = 5
    team_save(team=support, actor=None)
    with time_machine.travel(T0, tick=False) as clock:
        with triggers():
            presence_set(user=operator, presence="online")
            conversation = factories.make_conversation(inbox=support_inbox)
        assert Conversation.objects.get(pk=conversation.pk).assignee == operator
        with triggers():
            presence_set(user=teammate, presence="online")
        clock.shift(timedelta(minutes=2))
        presence_set(user=operator, presence="away")  # she steps out; the customer waits

        clock.shift(timedelta(minutes=2))
        with triggers():
            distribution.distribution_sweep()
        assert Conversation.objects.get(pk=conversation.pk).assignee == operator  # 4 < 5 min

        clock.shift(timedelta(minutes=2))
        presence_set(user=teammate, presence="online")  # boris is at his desk
        with triggers():
            distribution.distribution_sweep()

    conversation.refresh_from_db()
    assert conversation.assignee == teammate
    reassigned = ConversationEvent.objects.get(conversation=conversation, type="reassigned")
    assert reassigned.data == {"from_user": operator.pk, "reason": "away"}
    notice = LiveEvent.objects.get(user_id=operator.pk, payload__type="conversation.reassigned")
    assert notice.payload["conversation_id"] == conversation.pk
    to_boris = ConversationEvent.objects.filter(conversation=conversation, type="assigned").latest(
        "pk"
    )
    assert to_boris.data["to_user"] == teammate.pk  # the usual assignment notice reaches him
    assert (profile(operator).load, profile(teammate).load) == (0, 1)


def test_an_answered_conversation_stays_with_an_away_operator(
    operator, teammate, support, support_inbox, triggers
):
    with time_machine.travel(T0, tick=False) as clock:
        with triggers():
            presence_set(user=operator, presence="online")
            conversation = factories.make_conversation(inbox=support_inbox)
        from chats.services.messages import message_reply

        message_reply(conversation=conversation, author=operator, body="Сейчас проверю.")
        presence_set(user=operator, presence="away")
        presence_set(user=teammate, presence="online")
        clock.shift(timedelta(hours=1))
        with triggers():
            distribution.reassign_unanswered()

    assert Conversation.objects.get(pk=conversation.pk).assignee == operator


@pytest.mark.django_db(transaction=True)
def test_the_operator_socket_is_the_heartbeat(operator) -> None:
    OperatorProfile.objects.filter(user=operator).update(
        presence="away", away_by_timeout=True, last_seen_at=None
    )
    socket = _socket(operator)

    async def scenario() -> None:
        assert (await socket.connect())[0]
        await socket.send_json_to({"type": "ping"})
        assert (await socket.receive_json_from(timeout=3))["type"] in {"pong", "presence.changed"}
        await socket.disconnect()

    async_to_sync(scenario)()

    seen = profile(operator)
    assert seen.presence == "online" and seen.last_seen_at is not None


def test_an_operator_sets_presence_from_the_header_and_the_api(client, operator):
    client.force_login(operator)

    page = client.post(reverse("presence"), {"presence": "online"}, HTTP_HX_REQUEST="true")
    assert page.status_code == 200
    assert 'value="online" selected' in page.content.decode()
    assert profile(operator).presence == "online"

    bad = client.post(reverse("presence"), {"presence": "asleep"})
    assert bad.status_code == 400 and "Unknown presence" in bad.content.decode()
    assert profile(operator).presence == "online"  # unchanged

    api = client.post(
        reverse("api-me-presence"), {"presence": "away"}, content_type="application/json"
    )
    assert api.status_code == 200 and api.json() == {"presence": "away"}
    api_bad = client.post(
        reverse("api-me-presence"), {"presence": "asleep"}, content_type="application/json"
    )
    assert api_bad.status_code == 400 and "presence" in api_bad.json()
    me = client.get(reverse("api-me")).json()
    assert (me["presence"], me["load"], me["capacity"]) == ("away", 0, 50)


def test_an_admin_editing_a_profile_does_not_write_back_a_stale_presence(operator):
    from accounts.services import operator_profile_save

    stale = OperatorProfile.objects.get(user=operator)  # the admin's form loads: offline
    presence_set(user=operator, presence="online")  # meanwhile she starts her shift
    stale.max_concurrent_conversations = 7
    operator_profile_save(profile=stale, teams=stale.teams.all(), actor=None)

    assert (profile(operator).presence, profile(operator).capacity) == ("online", 7)


def test_joining_a_team_serves_its_queue(operator, support, delivery, delivery_inbox, triggers):
    from accounts.services import operator_profile_save

    with triggers():
        waiting = factories.make_conversation(inbox=delivery_inbox)
        presence_set(user=operator, presence="online")
    assert Conversation.objects.get(pk=waiting.pk).assignee is None  # not her team yet

    with triggers():
        joined = OperatorProfile.objects.get(user=operator)
        operator_profile_save(profile=joined, teams=[support, delivery], actor=None)

    assert Conversation.objects.get(pk=waiting.pk).assignee == operator
