"""The soft-delete fields every deletable chat row carries."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class SoftDeleted(models.Model):
    """Nothing is hard-deleted from the UI: rows are marked, with who and when, and can be
    restored by those allowed to."""

    deleted_at = models.DateTimeField(_("deleted at"), null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("deleted by"),
    )

    class Meta:
        abstract = True
