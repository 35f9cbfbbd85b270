"""What the channels (docs/channels.md) leave behind: customer edits of a message, the
Telegram updates received and the chats replies go to, and every try to deliver a reply.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from chats.models.inboxes import Inbox
from chats.models.messages import Message
from customers.models import Customer


class MessageRevision(models.Model):
    """A previous version of a message the customer edited in their channel (Telegram lets
    them). Written by `chats.services.messages.message_edit_from_channel`, never changed."""

    message = models.ForeignKey(  # no database constraint: see Message.reply_to
        Message,
        on_delete=models.CASCADE,
        related_name="revisions",
        verbose_name=_("message"),
        db_constraint=False,
    )
    body = models.TextField(_("text"), blank=True)
    entities = models.JSONField(_("formatting"), default=list, blank=True)
    # When this version was current until (the moment of the edit that replaced it).
    replaced_at = models.DateTimeField(_("replaced at"))

    class Meta:
        ordering = ["replaced_at", "id"]
        verbose_name = _("message revision")
        verbose_name_plural = _("message revisions")

    def __str__(self) -> str:
        return f"#{self.message_id} @ {self.replaced_at:%Y-%m-%d %H:%M}"


class TelegramUpdate(models.Model):
    """One update Telegram posted to an inbox's webhook, kept until processed (and after, as
    the record that makes a redelivery of the same `update_id` a no-op)."""

    inbox = models.ForeignKey(Inbox, on_delete=models.PROTECT, related_name="+")
    update_id = models.BigIntegerField(_("update id"))
    payload = models.JSONField(_("update"))
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("Telegram update")
        verbose_name_plural = _("Telegram updates")
        constraints = [models.UniqueConstraint(fields=["inbox", "update_id"], name="tgupdate_once")]

    def __str__(self) -> str:
        return f"{self.inbox_id}:{self.update_id}"


class TelegramChat(models.Model):
    """Where replies to a customer go through one bot: their private chat with it. A chat
    migrated to a supergroup gets its new id here (Telegram's `migrate_to_chat_id`)."""

    inbox = models.ForeignKey(Inbox, on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="+", verbose_name=_("customer")
    )
    chat_id = models.BigIntegerField(_("chat id"))
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("Telegram chat")
        verbose_name_plural = _("Telegram chats")
        constraints = [
            models.UniqueConstraint(fields=["inbox", "customer"], name="tgchat_one_per_customer")
        ]

    def __str__(self) -> str:
        return str(self.chat_id)


class DeliveryAttempt(models.Model):
    """One try to hand a reply to a channel (a Bot API call, a push webhook to the app's
    backend): what was called, what came back. The operator's 'not delivered' has a trail."""

    class Target(models.TextChoices):
        TELEGRAM = "telegram", _("Telegram")
        PUSH = "push", _("push webhook")

    message = models.ForeignKey(  # no database constraint: see Message.reply_to
        Message,
        on_delete=models.CASCADE,
        related_name="attempts",
        verbose_name=_("message"),
        db_constraint=False,
    )
    target = models.CharField(_("target"), max_length=16, choices=Target.choices)
    at = models.DateTimeField(_("when"), auto_now_add=True)
    status_code = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    ok = models.BooleanField(_("succeeded"), default=False)
    error = models.CharField(_("error"), max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)
    # A reply that goes out as several channel messages (a long text, then a photo): which
    # part this call was for, the API method, and the channel's id for the part it created.
    # A retry resumes at the first part without a successful attempt.
    part = models.PositiveSmallIntegerField(_("part"), null=True, blank=True)
    method = models.CharField(_("method"), max_length=32, blank=True)
    external_id = models.CharField(_("channel message id"), max_length=128, blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("delivery attempt")
        verbose_name_plural = _("delivery attempts")
        indexes = [models.Index(fields=["message", "target", "at"], name="attempt_message")]

    def __str__(self) -> str:
        return f"{self.target} #{self.message_id} {self.status_code or self.error[:20]}"
