"""Messages of a conversation: from the customer, replies, internal notes, system events."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from chats.models.base import SoftDeleted
from chats.models.conversations import Conversation
from chats.models.inboxes import Inbox


class Message(SoftDeleted):
    class Kind(models.TextChoices):
        INBOUND = "inbound", _("from the customer")
        OUTBOUND = "outbound", _("reply")
        NOTE = "note", _("internal note")
        SYSTEM = "system", _("system event")

    class Delivery(models.TextChoices):
        NOT_APPLICABLE = "", _("—")
        QUEUED = "queued", _("queued")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")

    conversation = models.ForeignKey(
        Conversation, on_delete=models.PROTECT, related_name="messages"
    )
    # Denormalised from the conversation so (inbox, external_id) can be unique in one index.
    inbox = models.ForeignKey(Inbox, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("author"),
    )
    body = models.TextField(_("text"), blank=True)
    attachments = models.JSONField(_("attachments"), default=list, blank=True)
    # NULL, not "": messages of our own have no channel id and must not collide in the index.
    external_id = models.CharField(  # noqa: DJ001
        _("channel id"), max_length=128, null=True, blank=True
    )
    delivery_status = models.CharField(
        _("delivery"), max_length=8, choices=Delivery.choices, blank=True, default=""
    )
    delivery_error = models.CharField(_("delivery error"), max_length=500, blank=True)
    # The delivery outbox (docs/channels.md, "Delivery"): a queued reply is claimed by one
    # task at a time with a conditional UPDATE that sets `delivery_claimed_until` (the lease,
    # renewed before each part, or the time a retry is due after a transient error) and
    # counts the try. The sweep re-enqueues a queued reply never claimed within
    # DELIVERY_STUCK_SECONDS or whose claim has run out (its worker died).
    delivery_claimed_until = models.DateTimeField(
        _("delivery claimed until"), null=True, blank=True
    )
    # Not "Positive": its CHECK would make adding the column scan the whole table under lock.
    delivery_tries = models.SmallIntegerField(_("delivery tries"), default=0, db_default=0)
    # Channel details (docs/channels.md): formatting as (code-point) offsets into `body`, the
    # customer's reply target, the album a Telegram photo arrived in, the last edit.
    entities = models.JSONField(_("formatting"), default=list, blank=True)
    # References to a message are kept by the application, not by a database foreign key: on
    # PostgreSQL messages are partitioned by month (smartdesk/core/partitions/) and a foreign key
    # to a partitioned table must name its whole primary key, (id, created_at). Django still
    # emulates on_delete; nothing deletes messages but tests (the UI soft-deletes).
    reply_to = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_constraint=False,
        related_name="+",
        verbose_name=_("in reply to"),
    )
    media_group_id = models.CharField(  # noqa: DJ001 - NULL: most messages are no album
        _("album id"), max_length=64, null=True, blank=True
    )
    edited_at = models.DateTimeField(_("edited at"), null=True, blank=True)
    created_at = models.DateTimeField(_("sent at"), auto_now_add=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        indexes = [
            models.Index(fields=["conversation", "created_at"], name="msg_conversation"),
            models.Index(
                fields=["inbox", "media_group_id"],
                name="msg_media_group",
                condition=Q(media_group_id__isnull=False),
            ),
            # The delivery sweep's look-up: only the (few) replies still queued.
            models.Index(
                fields=["created_at"],
                name="msg_delivery_queued",
                condition=Q(delivery_status="queued"),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["inbox", "external_id"],
                condition=Q(external_id__isnull=False),
                name="msg_inbox_external_id_unique",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["inbound", "outbound", "note", "system"]),
                name="msg_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"

    @property
    def is_customer_visible(self) -> bool:
        return self.kind in (self.Kind.INBOUND, self.Kind.OUTBOUND)
