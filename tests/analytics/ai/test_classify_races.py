"""Classification runs finishing out of order, operators' priority and corrections, and a
correction that must not train a model inside the web request."""

from __future__ import annotations

import functools

import pytest
from django.test import override_settings

from analytics.ai import classification
from analytics.ai.classifier import training
from analytics.ai.models import Classification, ModelArtifact
from chats.models import Conversation
from chats.services.conversations import conversation_close, conversation_set_priority
from tests import factories

QUESTION = "Hi, what time do you open on Sunday?"
COMPLAINT = "The courier was an hour late and the food is cold. I want my money back!"


@pytest.fixture
def classifying():
    # AI_CLASSIFY_ENABLED stays off: the tests run each classification themselves, in the
    # order they choose.
    with override_settings(AI_CLASSIFIER_BACKEND="use"):
        yield


def _stale_run(conversation: Conversation, stage: str, messages: int) -> Classification | None:
    """A run that read the conversation when it had only its first `messages` customer
    messages, and reaches the lock only now."""
    reading = functools.partial(classification.conversation_text, limit=messages)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(classification, "conversation_text", reading)
        return classification.classification_run(conversation_id=conversation.pk, stage=stage)


def _three_messages(inbox) -> Conversation:
    conversation = factories.make_conversation(inbox=inbox, text=QUESTION)
    factories.receive(conversation, COMPLAINT)
    factories.receive(conversation, "Nobody answers the phone either.")
    return conversation


def test_a_run_on_fewer_messages_finishing_late_keeps_the_newer_answer(
    classifying, support_inbox
) -> None:
    conversation = _three_messages(support_inbox)
    classification.classification_run(conversation_id=conversation.pk, stage="first")
    newer = Classification.objects.get(conversation=conversation)
    assert (newer.label, newer.messages_seen) == ("complaint", 3)

    _stale_run(conversation, "first", messages=1)  # the task for message 1, late

    stored = Classification.objects.get(conversation=conversation)
    assert (stored.label, stored.messages_seen, stored.classified_at) == (
        "complaint",
        3,
        newer.classified_at,
    )


def test_a_first_run_finishing_after_the_close_run_keeps_the_close_answer(
    classifying, support_inbox, operator
) -> None:
    conversation = _three_messages(support_inbox)
    conversation_close(conversation=conversation, actor=operator)
    classification.classification_run(conversation_id=conversation.pk, stage="close")

    classification.classification_run(conversation_id=conversation.pk, stage="first")

    stored = Classification.objects.get(conversation=conversation)
    assert stored.stage == Classification.Stage.CLOSE
    # and the close run itself may run again (a retry)
    assert classification.classification_run(conversation_id=conversation.pk, stage="close")


def test_a_run_never_overwrites_an_operators_correction(
    classifying, support_inbox, operator
) -> None:
    conversation = factories.make_conversation(inbox=support_inbox, text=QUESTION)
    classification.classification_run(conversation_id=conversation.pk, stage="first")
    classification.classification_correct(conversation=conversation, actor=operator, label="order")
    corrected = Classification.objects.get(conversation=conversation)
    factories.receive(conversation, COMPLAINT)

    classification.classification_run(conversation_id=conversation.pk, stage="first")

    stored = Classification.objects.get(conversation=conversation)
    assert (stored.shown_label, stored.label, stored.messages_seen, stored.classified_at) == (
        "order",
        corrected.label,
        1,
        corrected.classified_at,
    )


def test_priority_is_raised_once_and_an_operator_may_lower_it(
    classifying, support_inbox, operator
) -> None:
    conversation = factories.make_conversation(inbox=support_inbox, text=COMPLAINT)
    classification.classification_run(conversation_id=conversation.pk, stage="first")
    conversation.refresh_from_db()
    assert conversation.priority == Conversation.Priority.HIGH

    conversation_set_priority(
        conversation=conversation, priority=Conversation.Priority.NORMAL, actor=operator
    )
    factories.receive(conversation, "Nobody answers the phone either.")
    classification.classification_run(conversation_id=conversation.pk, stage="first")

    assert Classification.objects.get(conversation=conversation).label == "complaint"
    conversation.refresh_from_db()
    assert conversation.priority == Conversation.Priority.NORMAL


def test_correcting_with_no_active_model_does_not_train_in_the_request(
    support_inbox, operator, monkeypatch
) -> None:
    def no_training(*args, **kwargs):
        raise AssertionError("a correction trained a model")

    # tfidf has no shipped model: the default one would be trained on first use
    monkeypatch.setattr(training, "_default", {})
    monkeypatch.setattr(training, "train", no_training)
    monkeypatch.setattr(training, "train_default", no_training)
    assert not ModelArtifact.objects.exists()
    conversation = factories.make_conversation(inbox=support_inbox, text=COMPLAINT)

    with override_settings(AI_CLASSIFIER_BACKEND="tfidf"):
        stored = classification.classification_correct(
            conversation=conversation, actor=operator, label="complaint", topics=["late_delivery"]
        )

    assert (stored.shown_label, stored.shown_topics) == ("complaint", ["late_delivery"])
