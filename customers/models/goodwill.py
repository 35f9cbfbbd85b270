"""Goodwill points asked for above an operator's limit, waiting for an admin's decision."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from customers.models.loyalty import LoyaltyAccount, LoyaltyTransaction


class GoodwillRequest(models.Model):
    """Goodwill points asked for above the operator's limit, waiting for an admin."""

    class Status(models.TextChoices):
        PENDING = "pending", _("waiting for approval")
        APPROVED = "approved", _("approved")
        REJECTED = "rejected", _("rejected")

    account = models.ForeignKey(
        LoyaltyAccount,
        on_delete=models.PROTECT,
        related_name="goodwill_requests",
        verbose_name=_("account"),
    )
    points = models.PositiveIntegerField(_("points"))
    reason = models.CharField(_("reason"), max_length=300)
    conversation_id = models.BigIntegerField(_("conversation"), null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("requested by"),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    transaction = models.OneToOneField(
        LoyaltyTransaction,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="goodwill_request",
        verbose_name=_("ledger line"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("goodwill request")
        verbose_name_plural = _("goodwill requests")
        indexes = [models.Index(fields=["status", "created_at"], name="goodwill_status")]

    def __str__(self) -> str:
        return f"{self.points} → {self.account}"
