"""A random walk over arrivals, replies, closes, snoozes, presence and capacity changes, with
the triggers run after each step; after every step the distribution invariants must hold:

- every operator's stored load equals the weight of their open assigned conversations;
- distribution never pushes a load above capacity (a load above it only comes from an admin
  lowering the capacity, and then it only goes down);
- no conversation waits while an eligible operator has room for it.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)

from accounts.models import OperatorProfile, Role
from accounts.services import presence_set
from chats.models import Conversation
from chats.services import conversations as svc
from chats.services import distribution
from tests import factories
from tests.chats.distribution.conftest import set_capacity

_runs = itertools.count()


def test_distribution_invariants_hold_under_random_operations(db, triggers) -> None:
    roles = factories.builtin_roles()

    class Floor(RuleBasedStateMachine):
        operators = Bundle("operators")

        def __init__(self) -> None:
            super().__init__()
            n = next(_runs)
            self.team = factories.make_team(f"Floor {n}")
            self.inbox = factories.make_inbox(name=f"Floor inbox {n}", team=self.team)
            self.ceiling: dict[int, int] = {}

        @rule(target=operators, capacity=st.integers(0, 3))
        def hire(self, capacity: int) -> int:
            user = factories.make_user(
                role=roles[Role.OPERATOR], teams=[self.team], max_concurrent_conversations=capacity
            )
            self.ceiling[user.pk] = capacity
            return user.pk

        @rule()
        def customer_writes(self) -> None:
            with triggers():
                factories.make_conversation(inbox=self.inbox)

        @rule(data=st.data())
        def customer_replies(self, data: st.DataObject) -> None:
            mine = list(Conversation.objects.filter(team=self.team).order_by("pk"))
            if mine:
                with triggers():
                    factories.receive(data.draw(st.sampled_from(mine)), "ещё вопрос")

        @rule(data=st.data())
        def operator_closes(self, data: st.DataObject) -> None:
            assigned = list(
                Conversation.objects.filter(team=self.team, status="open", assignee__isnull=False)
            )
            if assigned:
                conversation = data.draw(st.sampled_from(assigned))
                with triggers():
                    svc.conversation_close(conversation=conversation, actor=conversation.assignee)

        @rule(data=st.data(), until_reply=st.booleans())
        def operator_snoozes(self, data: st.DataObject, until_reply: bool) -> None:
            assigned = list(
                Conversation.objects.filter(team=self.team, status="open", assignee__isnull=False)
            )
            if assigned:
                conversation = data.draw(st.sampled_from(assigned))
                with triggers():
                    svc.conversation_snooze(
                        conversation=conversation,
                        actor=conversation.assignee,
                        until=None if until_reply else timezone.now() + timedelta(hours=1),
                    )

        @rule(user_id=operators, presence=st.sampled_from(["online", "online", "away", "offline"]))
        def presence_changes(self, user_id: int, presence: str) -> None:
            with triggers():
                presence_set(user=factories.User.objects.get(pk=user_id), presence=presence)

        @rule(user_id=operators, capacity=st.integers(0, 4))
        def capacity_changes(self, user_id: int, capacity: int) -> None:
            with triggers():
                set_capacity(factories.User.objects.get(pk=user_id), capacity)
            load = OperatorProfile.objects.get(user_id=user_id).load
            self.ceiling[user_id] = max(capacity, load)

        @rule()
        def sweep(self) -> None:
            with triggers():
                distribution.distribute_queue(team_ids=[self.team.pk])

        @invariant()
        def loads_are_exact_and_within_capacity(self) -> None:
            for profile in OperatorProfile.objects.filter(teams=self.team):
                actual = (
                    Conversation.objects.filter(
                        assignee_id=profile.user_id, status="open", deleted_at__isnull=True
                    ).aggregate(n=Sum("load_weight"))["n"]
                    or 0
                )
                assert profile.load == actual, (profile.user_id, profile.load, actual)
                ceiling = self.ceiling[profile.user_id]
                assert profile.load <= ceiling, (profile.user_id, profile.load, ceiling)
                # above capacity only goes down: the allowance shrinks with the load
                self.ceiling[profile.user_id] = max(profile.capacity, profile.load)
                assert profile.overload == max(0, profile.load - profile.capacity)

        @invariant()
        def nobody_waits_while_an_eligible_operator_has_room(self) -> None:
            waiting = Conversation.objects.filter(
                team=self.team, status="open", assignee__isnull=True, deleted_at__isnull=True
            )
            if not waiting.exists():
                return
            lightest = min(waiting.values_list("load_weight", flat=True))
            with_room = [
                p.user_id
                for p in OperatorProfile.objects.filter(teams=self.team, presence="online")
                if p.load + lightest <= p.capacity
            ]
            assert not with_room, (list(waiting.values_list("pk", flat=True)), with_room)

    run_state_machine_as_test(
        Floor,
        settings=settings(
            max_examples=30,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
