"""One customer across channels: the log of merges of two records found to be one person."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from customers.models.customers import Customer


class CustomerMerge(models.Model):
    """Two records found to be one person: everything of `source` was moved to `target`.

    `moved` lists, per relation (`app.Model.field`), the ids of the rows that were repointed,
    so the merge can be undone exactly from this log (`customers.identities.customer_unmerge`).
    The source row stays, empty, so an undo has somewhere to put things back.
    """

    source = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="merged_away", verbose_name=_("merged")
    )
    target = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="merged_in", verbose_name=_("into")
    )
    moved = models.JSONField(_("moved rows"), default=dict)
    fields = models.JSONField(_("copied fields"), default=dict, blank=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("by"),
    )
    at = models.DateTimeField(_("when"), auto_now_add=True)
    undone_at = models.DateTimeField(_("undone at"), null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("undone by"),
    )

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("customer merge")
        verbose_name_plural = _("customer merges")
        constraints = [
            # A customer is merged away at most once at a time.
            models.UniqueConstraint(
                fields=["source"], condition=Q(undone_at__isnull=True), name="merge_source_once"
            ),
            models.CheckConstraint(condition=~Q(source=models.F("target")), name="merge_not_self"),
        ]

    def __str__(self) -> str:
        return f"#{self.source_id} → #{self.target_id}"
