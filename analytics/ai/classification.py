"""Classification services: classify a conversation, correct it, retrain the model.

Every state change here runs in one transaction; the conversation's live row is refreshed after
commit (`publish_conversation_changed`). docs/ai.md, "Classification".
"""

from __future__ import annotations

import logging
import threading
from typing import Any, NamedTuple

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.template.defaultfilters import floatformat
from django.utils import timezone
from django.utils.translation import gettext as _

from analytics.ai.classifier import training
from analytics.ai.classifier.examples import (
    MAX_CHARS,
    SEED_FILE,
    Example,
    Prediction,
    load_examples,
    seed_topics,
)
from analytics.ai.classifier.head import Head
from analytics.ai.models import (
    Classification,
    ClassificationCorrection,
    Label,
    ModelArtifact,
    Topic,
    label_text,
)
from chats.events import publish_conversation_changed
from chats.models import Conversation, Message, TopicRule
from smartdesk.core.updates import model_update

log = logging.getLogger(__name__)

CHANGE = "ai_classification"


def backend_name() -> str:
    return getattr(settings, "AI_CLASSIFIER_BACKEND", "use")


def unsure_below() -> float:
    return float(getattr(settings, "AI_CLASSIFIER_UNSURE_BELOW", 0.55))


def first_messages() -> int:
    return int(getattr(settings, "AI_CLASSIFY_FIRST_MESSAGES", 3))


# --- the model in use ----------------------------------------------------------------------

_loaded: dict[str, Head] = {}
_loaded_lock = threading.Lock()


def current_head() -> Head:
    """The active trained model (database), else the default one trained on the seed set."""
    row = (
        ModelArtifact.objects.filter(is_active=True, backend=backend_name())
        .values_list("version", flat=True)
        .first()
    )
    head = _stored_head(row) if row is not None else None
    return head or training.default_head(backend_name())


def _stored_head(version: str) -> Head | None:
    """A stored artifact, loaded once per process; None when it is gone."""
    with _loaded_lock:
        head = _loaded.get(version)
    if head is None:
        data = ModelArtifact.objects.filter(version=version).values_list("data", flat=True).first()
        if data is None:
            return None
        head = Head.from_bytes(bytes(data))
        with _loaded_lock:
            _loaded.clear()
            _loaded[version] = head
    return head


def known_model_topics() -> set[str]:
    """The topics a model knows, without training one (a web request must never train): the
    active artifact's, else the seed set's (what the default model is trained on)."""
    version = (
        ModelArtifact.objects.filter(is_active=True, backend=backend_name())
        .values_list("version", flat=True)
        .first()
    )
    head = _stored_head(version) if version is not None else None
    return set(head.topics) if head is not None else seed_topics()


def inactive_topics() -> set[str]:
    return set(Topic.objects.filter(is_active=False).values_list("slug", flat=True))


def classify_texts(texts: list[str], head: Head | None = None) -> list[Prediction]:
    """The contract of `ai_classify`: label, confidence and topics per text, in order."""
    head = head or current_head()
    hidden = inactive_topics()
    out = []
    for p in head.predict(texts):
        out.append(Prediction(p.label, p.confidence, [t for t in p.topics if t not in hidden]))
    return out


# --- classifying a conversation ------------------------------------------------------------


def among_first_messages(conversation_id: int, message_id: int) -> bool:
    """Whether inbound message `message_id` is one of its conversation's first
    `AI_CLASSIFY_FIRST_MESSAGES`. Reads at most one id more than that: it is asked on every
    inbound message, and a long conversation must not make it dearer."""
    limit = first_messages()
    if limit < 1:
        return False
    upto = Message.objects.filter(
        conversation_id=conversation_id, kind=Message.Kind.INBOUND, id__lte=message_id
    ).order_by()
    return len(upto.values_list("pk", flat=True)[: limit + 1]) <= limit


def conversation_text(conversation_id: int, *, limit: int | None = None) -> tuple[str, int]:
    """What a conversation is classified on: its customer's first messages, in order."""
    bodies = list(
        Message.objects.filter(
            conversation_id=conversation_id,
            kind=Message.Kind.INBOUND,
            deleted_at__isnull=True,
        )
        .exclude(body="")
        .order_by("created_at", "id")
        .values_list("body", flat=True)[: limit or max(first_messages(), 5)]
    )
    return "\n".join(bodies)[:MAX_CHARS], len(bodies)


def classification_run(*, conversation_id: int, stage: str) -> Classification | None:
    """Classify (again) one conversation and store the answer with the model version.

    Idempotent: running twice stores the same answer. Runs may finish out of order (the text
    is read and classified before the lock), so under the lock a run never replaces an answer
    made on more of the customer's messages, nor the answer on close (unless it is itself the
    close run), nor anything on a conversation an operator corrected. A complaint raises the
    conversation's priority (`AI_COMPLAINT_PRIORITY`) once, when the label becomes one: an
    operator who lowered it afterwards is not overruled by the next run."""
    text, seen = conversation_text(conversation_id)
    if not text.strip():
        return None
    head = current_head()
    prediction = classify_texts([text], head)[0]
    now = timezone.now()
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().filter(pk=conversation_id).first()
        if conversation is None:
            return None
        classification = Classification.objects.filter(conversation=conversation).first()
        if classification is not None and _is_newer(classification, stage=stage, seen=seen):
            return classification
        raised_before = classification is not None and _raises_priority(classification)
        shown_before = _shown(classification)
        chip_before = chip_of(classification)
        if classification is None:
            classification = Classification(conversation=conversation)
        classification.label = prediction.label
        classification.confidence = prediction.confidence
        classification.topics = prediction.topics
        classification.unsure = prediction.confidence < unsure_below()
        classification.model_version = head.version
        classification.stage = stage
        classification.messages_seen = seen
        classification.classified_at = now
        classification.save()
        if not raised_before:
            _apply_rules(conversation, classification)
        _route_topic(conversation, classification)
        if _shown(classification) != shown_before:
            # A run that changes nothing on screen (the same answer on one more message) sends
            # no event: each one makes every socket that sees the conversation re-render it.
            # One that changes only the thread's panel (the confidence on one more message)
            # says its list row is as it was: no socket re-renders the row for it.
            publish_conversation_changed(
                conversation, change=CHANGE, row_changed=chip_of(classification) != chip_before
            )
    return classification


class Chip(NamedTuple):
    """What the list row's chip shows of a classification (templates/ai/_chip.html)."""

    label: str
    unsure: bool
    corrected: bool

    def label_display(self) -> str:
        return label_text(self.label)


def chip_of(classification: Classification | None) -> Chip | None:
    if classification is None:
        return None
    return Chip(
        classification.shown_label, bool(classification.unsure), classification.is_corrected
    )


def classification_of(conversation: Any) -> Classification | None:
    """Read with the conversation when its query selected it (`register_row_related`), or
    asked for."""
    relation = conversation._meta.get_field("ai_classification")
    if relation.is_cached(conversation):
        return relation.get_cached_value(conversation)
    return Classification.objects.filter(conversation_id=conversation.pk).first()


def row_chip(conversation: Any) -> Chip | None:
    """The list row's part `ai_chip` (chats.views.presenters.rows)."""
    return chip_of(classification_of(conversation))


def _shown(classification: Classification | None) -> tuple[Any, ...] | None:
    """What the list's chip and the thread's panel show of a classification
    (templates/ai/_chip.html, templates/ai/_classification.html)."""
    chip = chip_of(classification)
    if classification is None or chip is None:
        return None
    return (
        *chip,
        floatformat(classification.confidence, "2"),  # as the panel shows it
        classification.model_version,
        tuple(classification.shown_topics or ()),
    )


def _is_newer(stored: Classification, *, stage: str, seen: int) -> bool:
    """Whether the stored answer must stay: corrected, made on more messages, or on close."""
    if stored.is_corrected or stored.messages_seen > seen:
        return True
    return stored.stage == Classification.Stage.CLOSE and stage != Classification.Stage.CLOSE


def _raises_priority(classification: Classification) -> bool:
    """Whether this answer is one the complaint rule acts on."""
    if classification.shown_label != Label.COMPLAINT:
        return False
    return not classification.unsure or classification.is_corrected


def _apply_rules(conversation: Conversation, classification: Classification) -> None:
    """Rules on the label: a complaint raises the priority (never lowers it)."""
    wanted = getattr(settings, "AI_COMPLAINT_PRIORITY", "high")
    if not wanted or not _raises_priority(classification):
        return
    priority = {"high": Conversation.Priority.HIGH, "urgent": Conversation.Priority.URGENT}.get(
        wanted
    )
    if priority is None or conversation.priority >= priority or conversation.deleted_at:
        return
    if conversation.status == Conversation.Status.CLOSED:  # nothing left to hurry
        return
    from chats.services.conversations import conversation_set_priority

    conversation_set_priority(conversation=conversation, priority=int(priority), actor=None)


def _route_topic(conversation: Conversation, classification: Classification) -> None:
    """Routing by topic: a sure answer whose topic has a `chats.TopicRule` moves a conversation
    that nobody has taken yet (no topic, no assignee, open) to that rule's team and skill,
    through the transfer service (audited, distribution re-run). A conversation an operator
    already holds or gave a topic is never moved by the model."""
    if classification.unsure and not classification.is_corrected:
        return
    if conversation.topic or conversation.assignee_id or conversation.deleted_at:
        return
    if conversation.status == Conversation.Status.CLOSED:
        return
    from chats.services.conversations import conversation_transfer

    for topic in classification.shown_topics:
        rule = TopicRule.objects.filter(topic__iexact=topic).first()
        if rule is not None:
            conversation_transfer(
                conversation=conversation,
                actor=None,
                reason=_("Classified as %(topic)s") % {"topic": rule.topic},
                topic=rule.topic,
            )
            return


def classification_correct(
    *, conversation: Conversation, actor: Any, label: str, topics: list[str] | None = None
) -> Classification:
    """An operator's correction: stored beside the model's answer, audited, and learnt from at
    the next training."""
    if label not in Label.values:
        raise ValidationError(_("Unknown label."))
    topics = sorted(set(topics or []))
    # An admin's active topics, and those the model already knows (the seed set's).
    known = set(Topic.objects.filter(is_active=True).values_list("slug", flat=True))
    known |= known_model_topics() - inactive_topics()
    unknown = [t for t in topics if t not in known]
    if unknown:
        raise ValidationError(_("Unknown topic: %(topics)s") % {"topics": ", ".join(unknown)})
    now = timezone.now()
    with transaction.atomic():
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        classification = Classification.objects.filter(conversation=locked).first()
        raised_before = classification is not None and _raises_priority(classification)
        if classification is None:  # nothing classified yet: the operator's answer is the first
            _text, seen = conversation_text(locked.pk)
            classification = Classification(
                conversation=locked,
                label=label,
                confidence=1.0,
                topics=topics,
                model_version="",
                stage=Classification.Stage.FIRST,
                messages_seen=seen,
                classified_at=now,
            )
        ClassificationCorrection.objects.create(
            conversation=locked,
            actor=actor,
            before_label=classification.shown_label if classification.pk else "",
            before_topics=classification.shown_topics if classification.pk else [],
            label=label,
            topics=topics,
            model_version=classification.model_version,
        )
        classification.corrected_label = label
        classification.corrected_topics = topics
        classification.corrected_by = actor
        classification.corrected_at = now
        classification.save()
        if not raised_before:
            _apply_rules(locked, classification)
        publish_conversation_changed(locked, change=CHANGE)
    return classification


# --- training ------------------------------------------------------------------------------


def correction_examples() -> list[Example]:
    """Operators' corrections as training examples (the conversation's customer text)."""
    weight = float(getattr(settings, "AI_CORRECTION_WEIGHT", 2.0))
    examples = []
    rows = Classification.objects.filter(corrected_at__isnull=False).values_list(
        "conversation_id", "corrected_label", "corrected_topics", "conversation__customer__language"
    )
    for conversation_id, label, topics, lang in rows:
        text, _seen = conversation_text(conversation_id)
        if text.strip():
            examples.append(
                Example(
                    text=text, label=label, lang=lang or "", topics=tuple(topics), weight=weight
                )
            )
    return examples


def training_examples() -> tuple[list[Example], int]:
    hidden = inactive_topics()
    seed = load_examples(SEED_FILE)
    corrections = correction_examples()
    examples = [
        Example(e.text, e.label, e.lang, tuple(t for t in e.topics if t not in hidden), e.weight)
        for e in [*seed, *corrections]
    ]
    return examples, len(corrections)


def model_retrain(*, metrics: dict[str, Any] | None = None) -> ModelArtifact:
    """Train on the seed set plus every correction; store and activate the result."""
    examples, n_corrections = training_examples()
    head = training.train(examples, backend_name(), {"corrections": n_corrections})
    with transaction.atomic():
        artifact = ModelArtifact.objects.filter(version=head.version).first()
        ModelArtifact.objects.filter(is_active=True).update(is_active=False)
        if artifact is None:
            artifact = ModelArtifact.objects.create(
                version=head.version,
                backend=head.backend_name,
                data=head.to_bytes(),
                examples=len(examples),
                corrections=n_corrections,
                metrics=metrics or {},
                is_active=True,
            )
        else:
            model_update(artifact, is_active=True, metrics=metrics or artifact.metrics)
    log.info("classifier %s trained on %d examples", head.version, len(examples))
    return artifact


def model_retrain_if_corrected() -> ModelArtifact | None:
    """The nightly job: retrain only when corrections arrived since the active model."""
    newest = Classification.objects.aggregate(m=Max("corrected_at"))["m"]
    if newest is None:
        return None
    active = ModelArtifact.objects.filter(is_active=True).first()
    if active is not None and active.created_at >= newest:
        return None
    return model_retrain()
