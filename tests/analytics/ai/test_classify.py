"""Classifying conversations: the task after the first customer messages and on
close, the stored model version, complaint → high priority, operators' corrections (gated,
audited) feeding training, the nightly retrain, and the `ai_classify` contract."""

from __future__ import annotations

import io
import json
import socket
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

from analytics.ai import backends, classification, classifier
from analytics.ai.classifier import training
from analytics.ai.models import Classification, ClassificationCorrection, ModelArtifact, Topic
from analytics.ai.tasks_classify import classify_conversation, retrain_classifier
from chats.models import Conversation, ConversationEvent
from chats.services.conversations import conversation_close
from tests import factories

HTMX = {"HX-Request": "true"}

# A topic no seed example has: the admin defines it, operators tag ten conversations.
PACKAGING_TRAIN = [
    ("en", "complaint", "The soup container cracked and leaked all over the bag"),
    ("ru", "complaint", "Контейнер с супом треснул, всё протекло в пакет"),
    ("en", "complaint", "The lid of the sauce was open and it spilled everywhere"),
    ("ru", "complaint", "Крышка соуса была открыта, всё разлилось"),
    ("en", "complaint", "The pizza box was crushed and wet when it arrived"),
    ("ru", "complaint", "Коробка от пиццы приехала мятая и мокрая"),
    ("en", "consultation", "Is your packaging recyclable or plastic?"),
    ("ru", "consultation", "Ваша упаковка перерабатываемая или пластик?"),
    ("en", "order", "Please pack the drinks separately so they don't spill this time"),
    ("ru", "order", "Упакуйте напитки отдельно, чтобы не пролились, пожалуйста"),
]
PACKAGING_HELDOUT = [
    "My coffee cup leaked, the bag is soaked",
    "The sushi tray was broken in the bag and the rolls fell out",
    "Do you use paper bags or plastic ones?",
    "The burger box was squashed flat",
    "Please wrap the cake carefully, last time the box was damaged",
    "Стакан с кофе протёк, пакет насквозь мокрый",
    "Лоток с роллами сломался, всё высыпалось в пакет",
    "У вас пакеты бумажные или пластиковые?",
    "Коробка бургера приехала раздавленной",
    "Упакуйте торт аккуратно, в прошлый раз коробка была помята",
]


@pytest.fixture
def classifying():
    with override_settings(AI_CLASSIFY_ENABLED=True, AI_CLASSIFIER_BACKEND="use"):
        yield


def _open(inbox, text, **kwargs) -> Conversation:
    return factories.make_conversation(inbox=inbox, text=text, **kwargs)


def test_first_customer_message_is_classified_and_a_complaint_raises_priority(
    classifying, support_inbox, operator, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        conversation = _open(
            support_inbox, "Курьер опоздал на час, еда холодная. Верните деньги за доставку"
        )
    stored = Classification.objects.get(conversation=conversation)
    assert stored.label == "complaint"
    assert stored.stage == Classification.Stage.FIRST
    assert stored.model_version == classification.current_head().version
    assert stored.messages_seen == 1
    conversation.refresh_from_db()
    assert conversation.priority == Conversation.Priority.HIGH
    assert ConversationEvent.objects.filter(
        conversation=conversation, type=ConversationEvent.Type.PRIORITY, actor=None
    ).exists()


def test_a_question_is_a_consultation_and_keeps_normal_priority(
    classifying, support_inbox, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        conversation = _open(support_inbox, "Do you deliver to Kudrovo on Sundays?")
    stored = Classification.objects.get(conversation=conversation)
    assert stored.label == "consultation"
    conversation.refresh_from_db()
    assert conversation.priority == Conversation.Priority.NORMAL


def test_classified_again_on_close_and_only_for_the_first_messages(
    classifying, support_inbox, operator, django_capture_on_commit_callbacks, settings
) -> None:
    settings.AI_CLASSIFY_FIRST_MESSAGES = 1
    with django_capture_on_commit_callbacks(execute=True):
        conversation = _open(support_inbox, "Hi, what time do you open on Sunday?")
    with django_capture_on_commit_callbacks(execute=True):
        factories.receive(conversation, "And I was charged twice for yesterday's order!")
    assert Classification.objects.get(conversation=conversation).messages_seen == 1
    with django_capture_on_commit_callbacks(execute=True):
        conversation_close(conversation=conversation, actor=operator)
    stored = Classification.objects.get(conversation=conversation)
    assert stored.stage == Classification.Stage.CLOSE
    assert stored.messages_seen == 2


def test_deciding_to_classify_reads_at_most_one_more_message_than_the_limit(
    support_inbox, django_capture_on_commit_callbacks, settings
) -> None:
    # It runs on every inbound message: a long conversation must not make it dearer.
    settings.AI_CLASSIFY_FIRST_MESSAGES = 2
    settings.AI_CLASSIFY_ENABLED = True
    conversation = _open(support_inbox, "Hello")
    for n in range(6):
        factories.receive(conversation, f"and one more thing, {n}")
    with (
        CaptureQueriesContext(connection) as ctx,
        django_capture_on_commit_callbacks(execute=True),
    ):
        factories.receive(conversation, "the last one")

    messages = [q["sql"] for q in ctx.captured_queries if 'FROM "chats_message"' in q["sql"]]
    counted = [sql for sql in messages if "COUNT(" in sql.upper()]
    bounded = [sql for sql in messages if sql.rstrip().endswith("LIMIT 3")]
    assert not counted, counted
    assert len(bounded) == 1, messages


def test_a_limit_below_one_classifies_nothing_on_arrival_and_fails_nothing(
    support_inbox, django_capture_on_commit_callbacks, settings, caplog
) -> None:
    settings.AI_CLASSIFY_ENABLED = True
    for limit in (0, -2):
        settings.AI_CLASSIFY_FIRST_MESSAGES = limit
        with django_capture_on_commit_callbacks(execute=True):
            conversation = _open(support_inbox, f"My order is late ({limit})")
        assert not Classification.objects.filter(conversation=conversation).exists()
    assert not [r for r in caplog.records if "after-commit" in r.getMessage()], caplog.text


def test_nothing_is_classified_when_turned_off(
    support_inbox, django_capture_on_commit_callbacks, settings
) -> None:
    settings.AI_CLASSIFY_ENABLED = False
    with django_capture_on_commit_callbacks(execute=True):
        conversation = _open(support_inbox, "My order is an hour late")
    assert not Classification.objects.filter(conversation=conversation).exists()


def test_the_task_is_idempotent(classifying, support_inbox) -> None:
    conversation = _open(support_inbox, "Please cancel my order 7781")
    classify_conversation(conversation.pk, "first")
    first = Classification.objects.get(conversation=conversation)
    classify_conversation(conversation.pk, "first")
    again = Classification.objects.get(conversation=conversation)
    assert Classification.objects.filter(conversation=conversation).count() == 1
    assert (again.label, again.confidence, again.model_version) == (
        first.label,
        first.confidence,
        first.model_version,
    )
    assert again.label == "order"


def test_the_label_shows_in_the_list_row_and_the_thread(
    classifying, support_inbox, operator
) -> None:
    conversation = _open(
        support_inbox, "Where is my refund? It's been three weeks", assignee=operator
    )
    classify_conversation(conversation.pk, "first")
    client = Client()
    client.force_login(operator)
    page = client.get(f"/inbox/c/{conversation.pk}/").content.decode()
    assert 'data-ai-label="complaint"' in page
    assert 'id="ai-correct-order"' in page
    listing = client.get("/inbox/list/").content.decode()
    assert 'data-ai-label="complaint"' in listing


def test_an_operator_corrects_with_one_click_audited(classifying, support_inbox, operator) -> None:
    conversation = _open(support_inbox, "Hello, do you have gift cards?", assignee=operator)
    classify_conversation(conversation.pk, "first")
    client = Client()
    client.force_login(operator)
    url = f"/inbox/c/{conversation.pk}/ai/classification/"
    response = client.post(url, {"label": "complaint"}, headers=HTMX)
    assert response.status_code == 200
    assert 'data-ai-label="complaint"' in response.content.decode()
    stored = Classification.objects.get(conversation=conversation)
    assert (stored.shown_label, stored.corrected_by, stored.label) == (
        "complaint",
        operator,
        "consultation",
    )
    audit = ClassificationCorrection.objects.get(conversation=conversation)
    assert (audit.before_label, audit.label, audit.actor) == ("consultation", "complaint", operator)
    conversation.refresh_from_db()
    assert conversation.priority == Conversation.Priority.HIGH  # the rule follows the correction
    # without htmx: a redirect back to the conversation
    response = client.post(url, {"label": "order"})
    assert response.status_code == 302


def test_correction_is_gated_and_checks_its_input(
    classifying, support_inbox, delivery_inbox, operator
) -> None:
    mine = _open(support_inbox, "Do you deliver at night?", assignee=operator)
    foreign = _open(delivery_inbox, "Do you deliver at night?")
    client = Client()
    client.force_login(operator)
    assert (
        client.post(f"/inbox/c/{foreign.pk}/ai/classification/", {"label": "order"}).status_code
        == 404
    )
    assert not ClassificationCorrection.objects.exists()
    bad = client.post(f"/inbox/c/{mine.pk}/ai/classification/", {"label": "spam"})
    assert bad.status_code == 400
    unknown = client.post(
        f"/inbox/c/{mine.pk}/ai/classification/", {"label": "order", "topics": "no_such_topic"}
    )
    assert unknown.status_code == 400
    assert client.get(f"/inbox/c/{mine.pk}/ai/classification/").status_code == 405
    assert not ClassificationCorrection.objects.exists()


def test_ten_corrections_teach_a_new_topic(classifying, support_inbox, operator) -> None:
    Topic.objects.create(slug="packaging", name="Packaging")
    before = classification.current_head()
    assert "packaging" not in before.topics
    for lang, label, text in PACKAGING_TRAIN:
        customer = factories.make_customer(email=f"{abs(hash(text))}@x.test")
        customer.language = lang
        customer.save(update_fields=["language"])
        conversation = _open(support_inbox, text, customer=customer)
        classification.classification_correct(
            conversation=conversation, actor=operator, label=label, topics=["packaging"]
        )
    artifact = retrain_classifier.apply().get() or ModelArtifact.objects.get(is_active=True)
    assert ModelArtifact.objects.get(is_active=True).corrections == 10
    head = classification.current_head()
    assert head.version == ModelArtifact.objects.get(is_active=True).version != before.version
    assert classifier.topic_recall(head, PACKAGING_HELDOUT, "packaging") >= 0.7
    # nothing new since: the nightly job leaves the model alone
    retrain_classifier()
    assert ModelArtifact.objects.count() == 1
    assert artifact is not None


def test_inactive_topics_are_neither_shown_nor_learnt(classifying, db) -> None:
    Topic.objects.create(slug="late_delivery", name="Late delivery", is_active=False)
    [p] = classification.classify_texts(["The courier is an hour late"])
    assert "late_delivery" not in p.topics
    examples, _n = classification.training_examples()
    assert not any("late_delivery" in e.topics for e in examples)


def _run_classify(lines: list[str]) -> list[dict]:
    out = io.StringIO()
    with mock.patch("sys.stdin", io.StringIO("\n".join(lines) + "\n")):
        call_command("ai_classify", stdout=out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_ai_classify_answers_one_line_per_input_in_order(db) -> None:
    inputs = [
        {"text": "Заказ опоздал на час и приехал холодным", "lang": "ru"},
        {"text": "Please book a hotel in Kazan for two nights", "lang": "en"},
        {"text": "Какие у вас часы работы?", "lang": "ru"},
        {"text": "I was charged twice, please refund one payment", "lang": "en"},
    ]
    rows = _run_classify([json.dumps(r, ensure_ascii=False) for r in inputs])
    assert [r["label"] for r in rows] == ["complaint", "order", "consultation", "complaint"]
    for row in rows:
        assert set(row) == {"label", "confidence", "topics"}
        assert 0.0 <= row["confidence"] <= 1.0
        assert isinstance(row["topics"], list)


def test_ai_classify_keeps_the_order_on_bad_lines(db) -> None:
    rows = _run_classify(
        ['{"text": "Do you deliver to Zelenograd?", "lang": "en"}', "not json", "{}"]
    )
    assert len(rows) == 3
    assert rows[0]["label"] == "consultation"
    assert "error" in rows[1] and "error" in rows[2]


def test_ai_classify_works_with_the_network_cut(db, monkeypatch) -> None:
    monkeypatch.setattr(training, "_default", {})
    monkeypatch.setattr(backends, "_shared", {})

    def refuse(*args, **kwargs):
        raise OSError("network is cut in this test")

    with mock.patch.object(socket.socket, "connect", refuse):
        rows = _run_classify(['{"text": "Where is my refund? Two weeks already", "lang": "en"}'])
    assert rows[0]["label"] == "complaint"


def test_a_run_that_changes_nothing_shown_sends_no_live_event(classifying, support_inbox) -> None:
    from smartdesk.core.models import LiveEvent

    def classification_events() -> int:
        return LiveEvent.objects.filter(
            type="conversation.changed", payload__change=classification.CHANGE
        ).count()

    conversation = _open(support_inbox, "Please cancel my order 7781")
    classify_conversation(conversation.pk, "first")
    assert classification_events() == 1

    classify_conversation(conversation.pk, "first")  # the same answer again
    assert classification_events() == 1

    factories.receive(conversation, "Where is my refund? It's been three weeks, I want it back")
    classify_conversation(conversation.pk, "first")  # a different answer
    assert Classification.objects.get(conversation=conversation).label != "order"
    assert classification_events() == 2


@pytest.mark.django_db(transaction=True)
def test_a_run_that_changes_only_the_panel_re_renders_no_list_row(
    classifying, support_inbox, operator
) -> None:
    """One more message of the same kind moves only the confidence (the thread's panel): its
    event still reaches everyone who sees the conversation, but no socket re-renders the row,
    which shows only the label."""
    from asgiref.sync import async_to_sync

    from chats import live_render
    from smartdesk.core.models import LiveEvent

    def newest_classification_event() -> dict:
        payload = (
            LiveEvent.objects.filter(
                type="conversation.changed", payload__change=classification.CHANGE
            )
            .order_by("-pk")
            .values_list("payload", "seq")
            .first()
        )
        assert payload is not None
        return {**payload[0], "id": 10**13 + payload[1]}

    conversation = _open(support_inbox, "Please cancel my order 7781", assignee=operator)
    classify_conversation(conversation.pk, "first")
    first = newest_classification_event()
    confidence = Classification.objects.get(conversation=conversation).confidence

    factories.receive(conversation, "And please cancel order 7782 as well")
    classify_conversation(conversation.pk, "first")
    stored = Classification.objects.get(conversation=conversation)
    assert stored.label == "order" and stored.confidence != confidence  # the panel changed
    second = newest_classification_event()

    assert "row_changed" not in first and second["row_changed"] is False
    shown = async_to_sync(live_render.decorate)(first, user=operator)
    assert 'data-ai-label="order"' in shown["html"]["row"]
    assert async_to_sync(live_render.decorate)(second, user=operator)["html"] == {}
