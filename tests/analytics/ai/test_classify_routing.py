"""Rules can use the classifier's topic: a `TopicRule` routes a conversation nobody has taken
yet to its team; one an operator holds, or an unsure answer, is never moved."""

from __future__ import annotations

import pytest
from django.test import override_settings

from analytics.ai import classification
from chats.models import ConversationEvent, TopicRule
from tests import factories

LATE = "The courier was an hour late and the food is cold. I want my money back!"

pytestmark = pytest.mark.django_db


@pytest.fixture
def rule():
    with override_settings(AI_CLASSIFIER_BACKEND="use"):
        yield TopicRule.objects.create(topic="late_delivery", team=factories.make_team("Late"))


def test_a_waiting_conversation_goes_to_its_topics_team(rule, support_inbox) -> None:
    conversation = factories.make_conversation(inbox=support_inbox, text=LATE)
    assert conversation.assignee_id is None

    classification.classification_run(conversation_id=conversation.pk, stage="first")

    conversation.refresh_from_db()
    assert (conversation.team_id, conversation.topic) == (rule.team_id, "late_delivery")
    moved = ConversationEvent.objects.get(conversation=conversation, type="transferred")
    assert moved.actor_id is None
    assert "late_delivery" in moved.data["reason"]


def test_a_conversation_an_operator_holds_stays_where_it_is(rule, support_inbox, operator) -> None:
    conversation = factories.make_conversation(inbox=support_inbox, text=LATE, assignee=operator)
    team_before = conversation.team_id

    classification.classification_run(conversation_id=conversation.pk, stage="first")

    conversation.refresh_from_db()
    assert (conversation.team_id, conversation.topic) == (team_before, "")
