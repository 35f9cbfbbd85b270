"""The audit trail of a conversation."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from chats.models.conversations import Conversation


class ConversationEvent(models.Model):
    """The audit trail of a conversation. Written by services, never edited."""

    class Type(models.TextChoices):
        CREATED = "created", _("created")
        ASSIGNED = "assigned", _("assigned")
        UNASSIGNED = "unassigned", _("unassigned")
        TRANSFERRED = "transferred", _("transferred")
        PRIORITY = "priority", _("priority changed")
        SNOOZED = "snoozed", _("snoozed")
        WOKE = "woke", _("woke up")
        CLOSED = "closed", _("closed")
        REOPENED = "reopened", _("reopened")
        DELETED = "deleted", _("deleted")
        RESTORED = "restored", _("restored")
        REASSIGNED = "reassigned", _("reassigned (operator away)")
        MESSAGE_DELETED = "message_deleted", _("message deleted")

    conversation = models.ForeignKey(Conversation, on_delete=models.PROTECT, related_name="events")
    type = models.CharField(_("type"), max_length=24, choices=Type.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("who"),
    )
    at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)
    data = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("conversation event")
        verbose_name_plural = _("conversation events")
        indexes = [models.Index(fields=["conversation", "at"], name="convevent_conversation")]

    def __str__(self) -> str:
        return f"{self.type} #{self.conversation_id}"
