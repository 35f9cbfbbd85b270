"""Who automatic distribution may give conversations to.

Roles say whether their holders receive automatic assignments: the built-in admin and
super-admin roles do not (they take conversations by hand), operators do. A role that does not
work on conversations (`handle_conversations`, the write gate's capability) receives nothing
automatically and cannot be made the target of an assignment or a transfer either.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import OperatorProfile, Role, User
from accounts.services import presence_set
from chats.models import Conversation, ConversationEvent
from chats.services import conversations as svc
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def triggers(django_capture_on_commit_callbacks: Any) -> Callable[[], AbstractContextManager]:
    """`with triggers(): ...` runs the on-commit callbacks of the block (Celery is eager)."""

    @contextmanager
    def run() -> Iterator[None]:
        with django_capture_on_commit_callbacks(execute=True):
            yield

    return run


def online(user: User, triggers: Callable[[], AbstractContextManager]) -> None:
    with triggers():
        presence_set(user=user, presence=OperatorProfile.Presence.ONLINE)


def arrive(inbox: Any, triggers: Callable[[], AbstractContextManager]) -> Conversation:
    with triggers():
        conversation = factories.make_conversation(inbox=inbox)
    return Conversation.objects.get(pk=conversation.pk)


@pytest.fixture
def reporter(support: Any) -> User:
    """Scope `all`, statistics only: looks, acts on nothing; its role still 'receives'."""
    role = factories.make_role(
        name="BI",
        slug="bi",
        scope=Role.Scope.ALL,
        can_view_statistics=True,
        can_handle_conversations=False,
        receives_auto_assignment=True,
    )
    return factories.make_user(username="bianca", role=role, teams=[support])


def test_the_builtin_roles_say_who_receives(roles) -> None:
    assert roles[Role.OPERATOR].receives_auto_assignment is True
    assert roles[Role.ADMIN].receives_auto_assignment is False
    assert roles[Role.SUPER_ADMIN].receives_auto_assignment is False


def test_an_online_admin_with_room_receives_nothing_while_an_operator_is_online(
    admin_user, operator, support_inbox, triggers
) -> None:
    online(admin_user, triggers)  # first online, empty: the fairest pick if he were eligible
    online(operator, triggers)

    conversations = [arrive(support_inbox, triggers) for _ in range(3)]

    assert {c.assignee_id for c in conversations} == {operator.pk}
    assert not Conversation.objects.filter(assignee=admin_user).exists()


def test_with_only_the_admin_online_the_conversation_waits_and_he_can_take_it(
    admin_user, support_inbox, triggers
) -> None:
    online(admin_user, triggers)

    conversation = arrive(support_inbox, triggers)
    assert conversation.assignee_id is None  # waits in the queue: nobody receives

    client = APIClient()
    client.force_login(admin_user)
    with triggers():
        response = client.post(reverse("conversation-take", args=[conversation.pk]))
    assert response.status_code in (200, 302, 303)
    assert Conversation.objects.get(pk=conversation.pk).assignee_id == admin_user.pk


def test_a_role_switched_on_receives_again(admin_user, support_inbox, triggers, roles) -> None:
    admin_role = roles[Role.ADMIN]
    admin_role.receives_auto_assignment = True
    admin_role.save(update_fields=["receives_auto_assignment"])
    online(admin_user, triggers)

    conversation = arrive(support_inbox, triggers)

    assert conversation.assignee_id == admin_user.pk


def test_a_role_that_does_not_work_on_conversations_is_never_picked(
    reporter, operator, support_inbox, triggers
) -> None:
    online(reporter, triggers)
    conversation = arrive(support_inbox, triggers)
    assert conversation.assignee_id is None  # the reporter is online with room: not picked

    online(operator, triggers)  # the next pass gives it to someone who works on it
    assert Conversation.objects.get(pk=conversation.pk).assignee_id == operator.pk
    assert not Conversation.objects.filter(assignee=reporter).exists()


def test_assigning_or_transferring_to_a_looking_only_role_is_refused(
    reporter, operator, admin_user, support_inbox
) -> None:
    conversation = factories.make_conversation(inbox=support_inbox, assignee=operator)
    events = ConversationEvent.objects.count()

    with pytest.raises(ValidationError):
        svc.conversation_assign(conversation=conversation, operator=reporter, actor=admin_user)
    with pytest.raises(ValidationError):
        svc.conversation_transfer(
            conversation=conversation, actor=admin_user, reason="BI asked", operator=reporter
        )

    client = APIClient()
    client.force_login(admin_user)
    assign = client.post(
        reverse("api-conversation-assign", args=[conversation.pk]),
        {"operator": reporter.pk},
        format="json",
    )
    transfer = client.post(
        reverse("api-conversation-transfer", args=[conversation.pk]),
        {"operator": reporter.pk, "reason": "BI asked"},
        format="json",
    )
    page = client.post(
        reverse("conversation-transfer", args=[conversation.pk]),
        {"operator": reporter.pk, "reason": "BI asked"},
    )

    assert assign.status_code == 400 and "conversations" in assign.json()["detail"]
    assert transfer.status_code == 400 and transfer.json()["detail"]
    assert page.status_code in (302, 303, 400)  # a refusal on the page, never a 500
    assert Conversation.objects.get(pk=conversation.pk).assignee_id == operator.pk
    assert ConversationEvent.objects.count() == events


def test_the_admin_can_still_be_assigned_by_hand(admin_user, operator, support_inbox) -> None:
    conversation = factories.make_conversation(inbox=support_inbox)

    svc.conversation_assign(conversation=conversation, operator=admin_user, actor=operator)

    assert Conversation.objects.get(pk=conversation.pk).assignee_id == admin_user.pk


def test_the_queue_view_shows_who_is_receiving(
    admin_user, operator, reporter, support_inbox, triggers
) -> None:
    online(admin_user, triggers)
    online(operator, triggers)
    online(reporter, triggers)
    client = APIClient()
    client.force_login(admin_user)

    html = client.get(reverse("queue")).content.decode()

    def cell(user: User) -> str:
        row = html.split(f'data-operator="{user.pk}"', 1)[1].split("</tr>", 1)[0]
        return row.split('class="auto-assign"', 1)[1]

    assert 'data-receives="yes"' in cell(operator)
    assert 'data-receives="no"' in cell(admin_user)
    assert 'data-receives="no"' in cell(reporter)
    assert "1 receiving automatically" in html  # of the three online in Support
