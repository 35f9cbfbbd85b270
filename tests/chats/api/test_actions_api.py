"""POST /api/v1/conversations/<id>/<action>/: each action changes the state, writes its
audit event and answers the updated conversation; bad input and wrong states change nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from accounts.services import profile_update_preferences
from chats.models import Conversation, ConversationEvent
from chats.services.conversations import (
    conversation_assign,
    conversation_close,
    conversation_delete,
    conversation_snooze,
)
from tests import factories

pytestmark = pytest.mark.django_db

EventType = ConversationEvent.Type
ACTIONS = [
    "assign",
    "unassign",
    "transfer",
    "priority",
    "snooze",
    "unsnooze",
    "close",
    "reopen",
    "delete",
    "restore",
]


def act(client, conversation: Conversation, action: str, body: dict | None = None):
    return client.post(
        f"/api/v1/conversations/{conversation.pk}/{action}/", body or {}, format="json"
    )


def events(conversation: Conversation) -> list[str]:
    return list(conversation.events.exclude(type=EventType.CREATED).values_list("type", flat=True))


def snapshot(conversation: Conversation) -> dict:
    """Everything an action may change, to prove a refused one changed nothing."""
    row = Conversation.objects.filter(pk=conversation.pk).values().get()
    return {**row, "events": conversation.events.count()}


# --- each action -----------------------------------------------------------------------


def test_assign_without_an_operator_takes_it(api, operator, support_conversation) -> None:
    response = act(api(operator), support_conversation, "assign")

    assert response.status_code == 200, response.content
    assert response.json()["assignee"] == {"id": operator.pk, "name": "anna"}
    assert Conversation.objects.get(pk=support_conversation.pk).assignee_id == operator.pk
    event = support_conversation.events.get(type=EventType.ASSIGNED)
    assert (event.actor_id, event.data) == (
        operator.pk,
        {"from_user": None, "to_user": operator.pk},
    )


def test_assign_to_a_colleague(api, operator, teammate, support_conversation) -> None:
    response = act(api(operator), support_conversation, "assign", {"operator": teammate.pk})

    assert response.json()["assignee"]["id"] == teammate.pk
    assert events(support_conversation) == [EventType.ASSIGNED]


def test_unassign_puts_it_back_in_the_queue(api, operator, support_inbox) -> None:
    conversation = factories.make_conversation(inbox=support_inbox, assignee=operator)

    response = act(api(operator), conversation, "unassign")

    assert response.json()["assignee"] is None
    assert events(conversation) == [EventType.ASSIGNED, EventType.UNASSIGNED]


def test_transfer_to_another_team_with_a_reason(
    api, operator, delivery, support_conversation
) -> None:
    response = act(
        api(operator),
        support_conversation,
        "transfer",
        {"team": delivery.pk, "reason": "A courier question"},
    )

    assert response.status_code == 200, response.content
    assert response.json()["team"] == {"id": delivery.pk, "name": "Delivery"}
    event = support_conversation.events.get(type=EventType.TRANSFERRED)
    assert event.data["reason"] == "A courier question"
    assert event.data["to_team"] == delivery.pk


def test_transfer_to_an_operator(api, operator, teammate, support_conversation) -> None:
    response = act(
        api(operator),
        support_conversation,
        "transfer",
        {"operator": teammate.pk, "reason": "Knows the customer"},
    )

    assert response.json()["assignee"]["id"] == teammate.pk
    assert events(support_conversation) == [EventType.TRANSFERRED]


def test_priority_by_name(api, operator, support_conversation) -> None:
    response = act(api(operator), support_conversation, "priority", {"priority": "urgent"})

    assert response.json()["priority"] == "urgent"
    assert Conversation.objects.get(pk=support_conversation.pk).priority == 2
    event = support_conversation.events.get(type=EventType.PRIORITY)
    assert event.data == {"before": 0, "after": 2}


def test_snooze_for_an_hour(api, operator, support_conversation) -> None:
    now = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    with time_machine.travel(now, tick=False):
        response = act(
            api(operator), support_conversation, "snooze", {"preset": "1h", "reason": "Waits"}
        )

    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["status"], data["snooze_until_reply"], data["snooze_reason"]) == (
        "snoozed",
        True,
        "Waits",
    )
    assert datetime.fromisoformat(data["snoozed_until"]) == now + timedelta(hours=1)
    assert events(support_conversation) == [EventType.SNOOZED]


def test_snooze_presets_use_the_callers_time_zone(api, operator, support_conversation) -> None:
    profile_update_preferences(profile=operator.profile, time_zone="Asia/Vladivostok")
    # Sunday 20:00 UTC is already Monday 06:00 in Vladivostok (UTC+10).
    with time_machine.travel(datetime(2026, 3, 1, 20, 0, tzinfo=UTC), tick=False):
        response = act(api(operator), support_conversation, "snooze", {"preset": "tomorrow"})

    until = datetime.fromisoformat(response.json()["snoozed_until"])
    assert until == datetime(2026, 3, 3, 9, 0, tzinfo=ZoneInfo("Asia/Vladivostok"))
    assert until.utcoffset() == timedelta(hours=10)  # answered in the caller's zone too


def test_a_custom_snooze_without_an_offset_is_read_in_the_callers_zone(
    api, operator, support_conversation
) -> None:
    profile_update_preferences(profile=operator.profile, time_zone="Europe/Moscow")
    with time_machine.travel(datetime(2026, 3, 2, 10, 0, tzinfo=UTC), tick=False):
        response = act(
            api(operator),
            support_conversation,
            "snooze",
            {"preset": "custom", "until": "2026-03-05T18:30:00", "wake_on_reply": False},
        )

    assert response.status_code == 200, response.content
    conversation = Conversation.objects.get(pk=support_conversation.pk)
    assert conversation.snoozed_until == datetime(2026, 3, 5, 15, 30, tzinfo=UTC)
    assert conversation.snooze_until_reply is False


def test_snooze_until_the_customer_replies(api, operator, support_conversation) -> None:
    response = act(api(operator), support_conversation, "snooze", {"preset": "reply"})

    data = response.json()
    assert (data["status"], data["snoozed_until"], data["snooze_until_reply"]) == (
        "snoozed",
        None,
        True,
    )


def test_unsnooze_wakes_it(api, operator, support_conversation) -> None:
    conversation_snooze(conversation=support_conversation, actor=operator, wake_on_reply=True)

    response = act(api(operator), support_conversation, "unsnooze")

    assert response.json()["status"] == "open"
    assert events(support_conversation) == [EventType.SNOOZED, EventType.WOKE]


def test_close_and_reopen(api, operator, support_conversation) -> None:
    closed = act(api(operator), support_conversation, "close").json()
    reopened = act(api(operator), support_conversation, "reopen").json()

    assert (closed["status"], closed["closed_at"] is not None) == ("closed", True)
    assert (reopened["status"], reopened["closed_at"]) == ("open", None)
    assert events(support_conversation) == [EventType.CLOSED, EventType.REOPENED]


def test_delete_and_restore(api, operator, admin_user, support_conversation) -> None:
    deleted = act(api(operator), support_conversation, "delete", {"reason": "Spam"})

    assert deleted.status_code == 200
    assert "deleted_at" not in deleted.json()  # operators do not see deletion details
    assert api(operator).get(f"/api/v1/conversations/{support_conversation.pk}/").status_code == 404
    restored = act(api(admin_user), support_conversation, "restore")
    assert restored.status_code == 200, restored.content
    assert restored.json()["deleted_at"] is None
    assert events(support_conversation) == [EventType.DELETED, EventType.RESTORED]
    deleted_event = support_conversation.events.get(type=EventType.DELETED)
    assert (deleted_event.actor_id, deleted_event.data) == (operator.pk, {"reason": "Spam"})


def test_only_those_who_may_restore_find_a_deleted_conversation_to_restore(
    api, operator, super_admin, support_conversation
) -> None:
    conversation_delete(conversation=support_conversation, actor=super_admin)
    before = snapshot(support_conversation)

    assert act(api(operator), support_conversation, "restore").status_code == 404
    assert snapshot(support_conversation) == before
    assert act(api(super_admin), support_conversation, "restore").status_code == 200


def test_restore_of_a_visible_conversation_by_an_operator_is_forbidden(
    api, operator, support_conversation
) -> None:
    response = act(api(operator), support_conversation, "restore")

    assert response.status_code == 403
    assert response.json()["detail"] == "Your role does not allow restoring conversations."


def test_actions_on_a_deleted_conversation_are_404_for_everyone_but_restore(
    api, admin_user, support_conversation
) -> None:
    conversation_delete(conversation=support_conversation, actor=admin_user)

    assert act(api(admin_user), support_conversation, "close").status_code == 404


# --- access ----------------------------------------------------------------------------


@pytest.mark.parametrize("action", ACTIONS)
def test_an_outsider_gets_a_404_and_changes_nothing(
    api, outsider, support_conversation, action
) -> None:
    before = snapshot(support_conversation)

    response = act(
        api(outsider),
        support_conversation,
        action,
        {"reason": "x", "priority": "high", "preset": "1h"},
    )

    assert response.status_code == 404
    assert response.json() == {"detail": "No such conversation."}
    assert snapshot(support_conversation) == before


@pytest.mark.parametrize("action", ACTIONS)
def test_anonymous_callers_are_refused(api, support_conversation, action) -> None:
    before = snapshot(support_conversation)

    assert act(api(None), support_conversation, action).status_code in (401, 403)
    assert snapshot(support_conversation) == before


def test_an_unknown_conversation_is_a_404(api, admin_user) -> None:
    assert act(api(admin_user), Conversation(pk=999_999_999), "close").status_code == 404


# --- bad input and wrong states --------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "body", "says"),
    [
        ("transfer", {"operator": "TEAMMATE"}, {"reason": ["This field is required."]}),
        (
            "transfer",
            {"operator": "TEAMMATE", "reason": "  "},
            {"detail": "Say why the conversation is transferred."},
        ),
        (
            "transfer",
            {"reason": "why not"},
            {"detail": "Choose a team or an operator to transfer to."},
        ),
        ("transfer", {"team": 999_999, "reason": "x"}, {"team": ["No such team."]}),
        ("transfer", {"operator": 999_999, "reason": "x"}, {"operator": ["No such operator."]}),
        ("assign", {"operator": 999_999}, {"operator": ["No such operator."]}),
        ("assign", {"operator": "anna"}, None),
        ("assign", {"operator": "ADMIN"}, None),  # an active user, but no operator profile
        ("priority", {"priority": "critical"}, {"priority": ['"critical" is not a valid choice.']}),
        ("priority", {"priority": 2}, None),
        ("priority", {}, {"priority": ["This field is required."]}),
        (
            "snooze",
            {"preset": "custom", "until": "2026-03-02T09:00:00Z"},
            {"detail": "The wake-up time must be in the future."},
        ),
        ("snooze", {"preset": "custom"}, {"detail": "Choose the date and time to wake up."}),
        (
            "snooze",
            {"preset": "1h", "until": "2026-03-09T09:00:00Z"},
            {"until": ["Only a custom snooze takes a time."]},
        ),
        (
            "snooze",
            {"preset": "reply", "wake_on_reply": False},
            {"detail": "A snooze needs a time, or to wait for the customer's reply."},
        ),
        ("snooze", {"preset": "fortnight"}, None),
        ("snooze", {"preset": "custom", "until": "soon"}, None),
    ],
)
def test_bad_input_is_a_400_with_a_message_and_changes_nothing(
    api, operator, teammate, super_admin, support_conversation, action, body, says
) -> None:
    from accounts.models import User

    stand_ins = {"TEAMMATE": teammate.pk, "ADMIN": User.objects.create(username="bot").pk}
    body = {k: stand_ins.get(v, v) if isinstance(v, str) else v for k, v in body.items()}
    before = snapshot(support_conversation)

    with time_machine.travel(datetime(2026, 3, 2, 10, 0, tzinfo=UTC), tick=False):
        response = act(api(operator), support_conversation, action, body)

    assert response.status_code == 400, response.content
    if says is not None:
        assert response.json() == says
    else:
        assert response.json()
    assert snapshot(support_conversation) == before


def test_assigning_a_closed_conversation_is_a_409_and_changes_nothing(
    api, operator, support_conversation
) -> None:
    conversation_close(conversation=support_conversation, actor=operator)
    before = snapshot(support_conversation)

    response = act(api(operator), support_conversation, "assign")

    assert response.status_code == 409
    assert response.json() == {"detail": "Reopen the conversation before assigning it."}
    assert snapshot(support_conversation) == before


def test_snoozing_a_closed_conversation_is_a_409(api, operator, support_conversation) -> None:
    conversation_close(conversation=support_conversation, actor=operator)

    response = act(api(operator), support_conversation, "snooze", {"preset": "1h"})

    assert response.status_code == 409
    assert Conversation.objects.get(pk=support_conversation.pk).status == "closed"


def test_repeating_an_action_writes_no_second_event(api, operator, support_conversation) -> None:
    conversation_assign(conversation=support_conversation, operator=operator, actor=operator)

    assert act(api(operator), support_conversation, "assign").status_code == 200
    assert events(support_conversation) == [EventType.ASSIGNED]


def test_an_id_beyond_any_integer_is_a_400_not_a_500(api, operator, support_conversation) -> None:
    before = snapshot(support_conversation)

    response = act(api(operator), support_conversation, "assign", {"operator": 10**30})

    assert response.status_code == 400
    assert snapshot(support_conversation) == before
