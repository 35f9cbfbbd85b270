"""Classification of conversations: per-conversation results, operators'
corrections, admin-defined topics and the trained models. docs/ai.md, "Classification"."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Label(models.TextChoices):
    COMPLAINT = "complaint", _("complaint")
    ORDER = "order", _("order")
    CONSULTATION = "consultation", _("consultation")


class Topic(models.Model):
    """A finer topic an admin defines (late delivery, refund, ticket change…). The model learns
    it from the seed set's examples with this slug and from operators' corrections."""

    slug = models.SlugField(
        _("code"),
        max_length=50,
        unique=True,
        help_text=_("Lower case with underscores, e.g. late_delivery; the seed set uses these."),
    )
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    is_active = models.BooleanField(
        _("active"), default=True, help_text=_("Inactive topics are neither shown nor learnt.")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("topic")
        verbose_name_plural = _("topics")

    def __str__(self) -> str:
        return self.name


class ModelArtifact(models.Model):
    """A trained classifier head (a small `.npz`), by version. One is active at a time; with
    none, the default model trained on the seed set (shipped in the repository) is used."""

    version = models.CharField(_("version"), max_length=40, unique=True)
    backend = models.CharField(_("backend"), max_length=16)
    data = models.BinaryField(_("weights"))
    examples = models.PositiveIntegerField(_("training examples"), default=0)
    corrections = models.PositiveIntegerField(_("operator corrections"), default=0)
    metrics = models.JSONField(_("measured quality"), default=dict, blank=True)
    is_active = models.BooleanField(_("active"), default=False)
    created_at = models.DateTimeField(_("trained at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("classifier model")
        verbose_name_plural = _("classifier models")
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"],
                condition=models.Q(is_active=True),
                name="ai_one_active_model",
            )
        ]

    def __str__(self) -> str:
        return self.version


class Classification(models.Model):
    """The classifier's answer for one conversation, and the operator's correction of it."""

    class Stage(models.TextChoices):
        FIRST = "first", _("first messages")
        CLOSE = "close", _("on close")

    conversation = models.OneToOneField(
        "chats.Conversation",
        on_delete=models.CASCADE,
        related_name="ai_classification",
        verbose_name=_("conversation"),
    )
    label = models.CharField(_("label"), max_length=16, choices=Label.choices)
    confidence = models.FloatField(_("confidence"))
    topics = models.JSONField(_("topics"), default=list, blank=True)
    unsure = models.BooleanField(_("unsure"), default=False)
    model_version = models.CharField(_("model version"), max_length=40)
    stage = models.CharField(_("classified"), max_length=8, choices=Stage.choices)
    messages_seen = models.PositiveIntegerField(_("customer messages read"), default=0)
    classified_at = models.DateTimeField(_("classified at"))
    corrected_label = models.CharField(
        _("corrected label"), max_length=16, choices=Label.choices, blank=True
    )
    corrected_topics = models.JSONField(_("corrected topics"), default=list, blank=True)
    corrected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("corrected by"),
    )
    corrected_at = models.DateTimeField(_("corrected at"), null=True, blank=True, db_index=True)

    class Meta:
        verbose_name = _("classification")
        verbose_name_plural = _("classifications")

    def __str__(self) -> str:
        return f"{self.shown_label} #{self.conversation_id}"

    @property
    def shown_label(self) -> str:
        return self.corrected_label or self.label

    @property
    def shown_topics(self) -> list[str]:
        return list(self.corrected_topics) if self.corrected_at else list(self.topics)

    @property
    def is_corrected(self) -> bool:
        return self.corrected_at is not None

    def get_shown_label_display(self) -> str:
        return label_text(self.shown_label)


def label_text(label: str) -> str:
    """A label as people read it, in the active language."""
    return str(Label(label).label)


class ClassificationCorrection(models.Model):
    """The audit trail of corrections: who changed which answer to what, and when."""

    conversation = models.ForeignKey(
        "chats.Conversation",
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("conversation"),
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("who")
    )
    before_label = models.CharField(_("label before"), max_length=16)
    before_topics = models.JSONField(_("topics before"), default=list, blank=True)
    label = models.CharField(_("label"), max_length=16, choices=Label.choices)
    topics = models.JSONField(_("topics"), default=list, blank=True)
    model_version = models.CharField(_("model version"), max_length=40)
    at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("classification correction")
        verbose_name_plural = _("classification corrections")

    def __str__(self) -> str:
        return f"{self.before_label} → {self.label} #{self.conversation_id}"
