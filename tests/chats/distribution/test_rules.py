"""Eligibility, choice and queue order (docs/distribution.md), through the real services with
their on-commit triggers run (Celery is eager in tests)."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.test import override_settings
from django.utils import timezone

from accounts.models import OperatorProfile, Role, Skill, User
from accounts.services import role_archive, team_save
from chats.models import Conversation, ConversationEvent, TopicRule
from chats.selectors import queue_status
from chats.services import conversations as svc
from chats.services import distribution
from chats.services.conversations import ActionRefused
from tests import factories
from tests.chats.distribution.conftest import give_skills, profile, set_capacity

Priority = Conversation.Priority


def arrive(inbox, triggers, text: str = "Здравствуйте", **customer) -> Conversation:
    with triggers():
        conversation = factories.make_conversation(
            inbox=inbox,
            customer=factories.make_customer(**customer) if customer else None,
            text=text,
        )
    return Conversation.objects.get(pk=conversation.pk)


# --- who is eligible --------------------------------------------------------------------------


def test_a_new_conversation_goes_to_the_online_operator_with_room(
    operator, teammate, support_inbox, go_online, triggers
):
    go_online(operator, capacity=2)  # the teammate stays offline

    conversation = arrive(support_inbox, triggers)

    assert conversation.assignee == operator
    assert conversation.assigned_at is not None and conversation.queued_at is not None
    event = ConversationEvent.objects.get(conversation=conversation, type="assigned")
    assert event.data == {"from_user": None, "to_user": operator.pk, "auto": True}
    assert event.actor is None
    assert profile(operator).load == 1


def test_with_nobody_online_it_waits_then_goes_to_the_first_operator_to_come_online(
    operator, support_inbox, go_online, triggers
):
    conversation = arrive(support_inbox, triggers)
    assert conversation.assignee is None and conversation.queued_at is not None

    go_online(operator, capacity=3)

    conversation.refresh_from_db()
    assert conversation.assignee == operator


@pytest.mark.parametrize(
    "reason", ["away", "offline", "deactivated", "archived role", "other team", "at capacity"]
)
def test_an_operator_who_is_not_eligible_gets_nothing(
    reason, roles, support, operator, outsider, support_inbox, go_online, triggers
):
    candidate = operator
    if reason == "away":
        go_online(operator, capacity=3, presence="away")
    elif reason == "offline":
        go_online(operator, capacity=3, presence="offline")
    elif reason == "deactivated":
        go_online(operator, capacity=3)
        User.objects.filter(pk=operator.pk).update(is_active=False)
    elif reason == "archived role":
        shift = factories.make_role(name="Night shift", scope=Role.Scope.TEAMS)
        candidate = factories.make_user(username="nina", role=shift, teams=[support])
        role_archive(role=shift, actor=None)  # stays on Nina, but routes nothing new to her
        go_online(candidate, capacity=3)
    elif reason == "other team":
        candidate = outsider
        go_online(outsider, capacity=3)
    elif reason == "at capacity":
        go_online(operator, capacity=1)
        arrive(support_inbox, triggers)
        assert profile(operator).load == 1

    conversation = arrive(support_inbox, triggers)

    assert conversation.assignee is None, reason
    assert not Conversation.objects.filter(assignee=candidate, pk=conversation.pk).exists()


def test_a_topic_that_needs_a_skill_goes_only_to_an_operator_who_has_it(
    operator, teammate, admin_user, support, support_inbox, go_online, triggers
):
    wine = Skill.objects.create(name="Wine list")
    TopicRule.objects.create(topic="Сомелье", team=support, required_skill=wine)
    go_online(operator, capacity=3)
    go_online(teammate, capacity=3)
    give_skills(teammate, wine)
    conversation = arrive(support_inbox, triggers)
    assert conversation.assignee_id in (operator.pk, teammate.pk)

    with triggers():
        svc.conversation_transfer(
            conversation=conversation,
            actor=admin_user,
            reason="asks for the sommelier",
            topic="Сомелье",
        )

    conversation.refresh_from_db()
    assert conversation.required_skill == wine
    assert conversation.assignee == teammate


def test_team_with_automatic_assignment_off_keeps_its_queue(
    operator, support, support_inbox, go_online, triggers
):
    support.auto_assign = False
    team_save(team=support, actor=None)
    go_online(operator, capacity=3)

    conversation = arrive(support_inbox, triggers)

    assert conversation.assignee is None
    with triggers():
        svc.conversation_take(conversation=conversation, actor=operator)  # manual still works
    assert Conversation.objects.get(pk=conversation.pk).assignee == operator


# --- whom among the eligible --------------------------------------------------------------------


def test_the_lowest_load_ratio_wins(operator, teammate, support_inbox, go_online, triggers):
    go_online(operator, capacity=4)
    for _ in range(2):
        with triggers():
            factories.make_conversation(inbox=support_inbox, assignee=operator)
    go_online(teammate, capacity=10)
    for _ in range(3):
        with triggers():
            factories.make_conversation(inbox=support_inbox, assignee=teammate)
    # anna 2/4 = 0.5, boris 3/10 = 0.3: boris has relatively more room
    assert arrive(support_inbox, triggers).assignee == teammate


def test_under_equal_load_it_is_a_fair_round_robin(
    operator, teammate, support_inbox, go_online, triggers
):
    go_online(operator, capacity=10)
    go_online(teammate, capacity=10)

    assignees = [arrive(support_inbox, triggers).assignee_id for _ in range(6)]

    assert sorted(assignees) == sorted([operator.pk, teammate.pk] * 3)
    # alternating: each tie goes to whoever was assigned longest ago
    assert all(a != b for a, b in itertools.pairwise(assignees))


def test_the_queue_is_served_urgent_first_then_longest_waiting(
    operator, admin_user, support_inbox, go_online, triggers
):
    normal_old = arrive(support_inbox, triggers, text="normal, first")
    high = arrive(support_inbox, triggers, text="high")
    normal_new = arrive(support_inbox, triggers, text="normal, later")
    urgent = arrive(support_inbox, triggers, text="urgent")
    svc.conversation_set_priority(conversation=high, priority=Priority.HIGH, actor=admin_user)
    svc.conversation_set_priority(conversation=urgent, priority=Priority.URGENT, actor=admin_user)
    assert [
        queue_status(Conversation.objects.get(pk=c.pk)).position
        for c in (urgent, high, normal_old, normal_new)
    ] == [1, 2, 3, 4]

    served = []
    go_online(operator, capacity=1)
    for _ in range(4):
        current = Conversation.objects.get(assignee=operator, status="open")
        served.append(current.pk)
        with triggers():  # closing frees the one slot: the next in line comes
            svc.conversation_close(conversation=current, actor=operator)

    assert served == [urgent.pk, high.pk, normal_old.pk, normal_new.pk]


def vip_priority(customer_id: int) -> int | None:
    from customers.models import Customer

    return Priority.URGENT if Customer.objects.get(pk=customer_id).first_name == "VIP" else None


def broken_lookup(customer_id: int) -> int | None:
    raise RuntimeError("loyalty service down")


# Where `initial_priority` looks the customer's loyalty priority up.
LOYALTY_LOOKUP = "chats.services.distribution.intake.loyalty_priority"


def test_the_loyalty_priority_raises_a_new_conversation(support_inbox, triggers, monkeypatch):
    monkeypatch.setattr(LOYALTY_LOOKUP, vip_priority)

    vip = arrive(support_inbox, triggers, first_name="VIP", email="vip@x.test")
    regular = arrive(support_inbox, triggers, first_name="Ivan", email="ivan@x.test")

    assert (vip.priority, regular.priority) == (Priority.URGENT, Priority.NORMAL)


def test_a_broken_loyalty_lookup_loses_nothing(support_inbox, triggers, monkeypatch):
    monkeypatch.setattr(LOYALTY_LOOKUP, broken_lookup)

    vip = arrive(support_inbox, triggers, "Срочно", first_name="VIP", email="vip@x.test")

    assert vip.priority == Priority.NORMAL
    assert list(vip.messages.values_list("body", flat=True)) == ["Срочно"]


@override_settings(DISTRIBUTION_WEIGHTS={"api": 2})
def test_a_channel_weight_counts_against_capacity(operator, support_inbox, go_online, triggers):
    go_online(operator, capacity=3)

    first = arrive(support_inbox, triggers)
    second = arrive(support_inbox, triggers)

    assert (first.load_weight, first.assignee_id) == (2, operator.pk)
    assert second.assignee is None  # 2 + 2 > 3
    assert profile(operator).load == 2


# --- capacity is a hard limit -----------------------------------------------------------------


def test_manual_assignment_beyond_capacity_needs_the_capability_and_is_recorded(
    operator, teammate, admin_user, support_inbox, go_online, triggers
):
    go_online(teammate, capacity=1)
    arrive(support_inbox, triggers)  # boris is now full
    extra = arrive(support_inbox, triggers)
    assert extra.assignee is None

    with pytest.raises(ActionRefused, match="boris is at capacity"):
        svc.conversation_transfer(
            conversation=extra, actor=operator, operator=teammate, reason="he knows them"
        )
    assert Conversation.objects.get(pk=extra.pk).assignee is None

    svc.conversation_assign(conversation=extra, operator=teammate, actor=admin_user)

    event = ConversationEvent.objects.filter(conversation=extra, type="assigned").latest("pk")
    assert event.data["over_capacity"] is True and event.actor == admin_user
    assert (profile(teammate).load, profile(teammate).capacity, profile(teammate).overload) == (
        2,
        1,
        1,
    )


def test_the_database_refuses_a_load_above_capacity(operator, go_online):
    go_online(operator, capacity=2)
    with pytest.raises(IntegrityError), transaction.atomic():
        OperatorProfile.objects.filter(user=operator).update(load=3)


def test_lowering_capacity_below_the_load_keeps_the_work_and_stops_new_work(
    operator, support_inbox, go_online, triggers
):
    go_online(operator, capacity=3)
    for _ in range(3):
        arrive(support_inbox, triggers)

    set_capacity(operator, 1)

    assert (profile(operator).load, profile(operator).capacity) == (3, 1)
    assert arrive(support_inbox, triggers).assignee is None


def test_a_team_default_capacity_applies_to_members_without_their_own(support, operator, go_online):
    go_online(operator)
    set_capacity(operator, None)
    assert profile(operator).capacity == 5  # no own capacity: the team default
    support.default_capacity = 2
    team_save(team=support, actor=None)

    assert profile(operator).capacity == 2


# --- what frees room, what comes back -----------------------------------------------------------


@pytest.mark.parametrize("how", ["close", "snooze", "transfer to a team", "delete"])
def test_freeing_a_slot_brings_the_next_waiting_conversation(
    how, operator, admin_user, delivery, support_inbox, go_online, triggers
):
    go_online(operator, capacity=1)
    current = arrive(support_inbox, triggers)
    waiting = arrive(support_inbox, triggers)
    assert (current.assignee, waiting.assignee) == (operator, None)

    with triggers():
        if how == "close":
            svc.conversation_close(conversation=current, actor=operator)
        elif how == "snooze":
            svc.conversation_snooze(
                conversation=current, actor=operator, until=timezone.now() + timedelta(hours=1)
            )
        elif how == "transfer to a team":
            svc.conversation_transfer(
                conversation=current, actor=operator, team=delivery, reason="wrong topic"
            )
        else:
            svc.conversation_delete(conversation=current, actor=admin_user)

    assert Conversation.objects.get(pk=waiting.pk).assignee == operator
    assert profile(operator).load == 1


def test_a_released_conversation_goes_to_someone_else(
    operator, teammate, support_inbox, go_online, triggers
):
    go_online(operator, capacity=5)
    conversation = arrive(support_inbox, triggers)
    assert conversation.assignee == operator
    go_online(teammate, capacity=1)
    arrive(support_inbox, triggers)  # boris takes one: anna has relatively more room
    set_capacity(teammate, 2)

    with triggers():
        svc.conversation_unassign(conversation=conversation, actor=operator)

    assert Conversation.objects.get(pk=conversation.pk).assignee == teammate


@pytest.mark.parametrize("how", ["woken", "reopened"])
def test_a_returning_conversation_goes_back_to_its_operator_when_they_have_room(
    how, operator, support_inbox, go_online, triggers
):
    go_online(operator, capacity=2)
    conversation = arrive(support_inbox, triggers)
    with triggers():
        if how == "woken":
            svc.conversation_snooze(conversation=conversation, actor=operator, until=None)
        else:
            svc.conversation_close(conversation=conversation, actor=operator)
    assert profile(operator).load == 0

    with triggers():
        factories.receive(conversation, "I'm back")

    conversation.refresh_from_db()
    assert (conversation.status, conversation.assignee) == ("open", operator)
    assert profile(operator).load == 1


@pytest.mark.parametrize("why", ["away", "full"])
def test_a_returning_conversation_goes_to_the_queue_when_its_operator_cannot_take_it(
    why, operator, teammate, support_inbox, go_online, triggers
):
    go_online(operator, capacity=1)
    conversation = arrive(support_inbox, triggers)
    with triggers():
        svc.conversation_snooze(conversation=conversation, actor=operator, until=None)
    if why == "away":
        go_online(operator, presence="away")
    else:
        arrive(support_inbox, triggers)  # her one slot is taken meanwhile
    go_online(teammate, capacity=3)

    with triggers():
        factories.receive(conversation, "Any news?")

    conversation.refresh_from_db()
    assert conversation.assignee == teammate
    woke = ConversationEvent.objects.get(conversation=conversation, type="woke")
    assert woke.data == {"cause": "reply", "to_queue_from": operator.pk}


# --- queue position and estimated wait ------------------------------------------------------------


def test_queue_position_and_estimated_wait_follow_the_queue(
    operator, support, support_inbox, go_online, triggers
):
    first = arrive(support_inbox, triggers)
    second = arrive(support_inbox, triggers)
    assert queue_status(second).position == 2
    assert queue_status(second).estimated_wait_seconds is None  # nobody online to estimate

    go_online(operator, capacity=1)  # takes the first
    second.refresh_from_db()

    status = queue_status(second)
    assert status.position == 1
    # one online slot turning over at the default handle time (no closed history yet)
    assert status.estimated_wait_seconds == 600
    assert queue_status(Conversation.objects.get(pk=first.pk)) is None  # assigned: not waiting


# --- the safety net ----------------------------------------------------------------------------


def test_the_sweep_reconciles_a_load_that_drifted(operator, support_inbox, go_online, triggers):
    go_online(operator, capacity=5)
    arrive(support_inbox, triggers)
    OperatorProfile.objects.filter(user=operator).update(load=4)  # a hand edit, a bug

    assert distribution.loads_reconcile() == 1
    assert profile(operator).load == 1


def test_the_sweep_places_what_a_lost_trigger_left_waiting(
    operator, support_inbox, go_online, triggers
):
    conversation = factories.make_conversation(inbox=support_inbox)  # its trigger never ran
    OperatorProfile.objects.filter(user=operator).update(
        presence="online", last_seen_at=timezone.now()
    )

    assert distribution.distribution_sweep() == 1
    assert Conversation.objects.get(pk=conversation.pk).assignee == operator


def test_a_team_setting_change_is_audited(support, super_admin):
    from accounts.models import AccessAuditEntry

    support.reassign_after_minutes = 15
    team_save(team=support, actor=super_admin)

    entry = AccessAuditEntry.objects.filter(target_type="team", target_id=support.pk).latest("pk")
    assert entry.before["reassign_after_minutes"] == 5
    assert entry.after["reassign_after_minutes"] == 15
    assert entry.actor == super_admin


def test_an_operator_on_a_call_is_busy_for_chats_until_the_call_is_released(
    operator, support_inbox, go_online, triggers
):
    from accounts.services import operator_busy_set

    go_online(operator, capacity=2)
    with triggers():
        operator_busy_set(user_id=operator.pk, weight=2)  # a call weighs the whole capacity
    waiting = arrive(support_inbox, triggers)
    assert waiting.assignee is None

    with triggers():
        operator_busy_set(user_id=operator.pk, weight=0)  # hung up and wrapped up

    assert Conversation.objects.get(pk=waiting.pk).assignee == operator
    assert (profile(operator).load, profile(operator).busy_load) == (1, 0)
    assert distribution.loads_reconcile() == 0  # the call part is part of the truth


def test_a_call_rings_even_when_chats_fill_the_capacity(
    operator, support_inbox, go_online, triggers
):
    from accounts.services import operator_busy_set

    go_online(operator, capacity=1)
    arrive(support_inbox, triggers)
    with triggers():
        operator_busy_set(user_id=operator.pk, weight=1)

    seen = profile(operator)
    assert (seen.load, seen.capacity, seen.overload, seen.busy_load) == (2, 1, 1, 1)
    assert distribution.loads_reconcile() == 0
