"""Reply templates: canned answers an operator inserts with /shortcut."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Team


class ReplyTemplate(models.Model):
    name = models.CharField(_("name"), max_length=100)
    shortcut = models.SlugField(
        _("shortcut"), max_length=50, help_text=_("Typed as /shortcut in the composer.")
    )
    body = models.TextField(
        _("text"),
        help_text=_(
            "Placeholders: {{ customer.first_name }}, {{ customer.name }}, "
            "{{ operator.first_name }}."
        ),
    )
    team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="reply_templates",
        verbose_name=_("team"),
        help_text=_("Empty: available to every team."),
    )
    language = models.CharField(_("language"), max_length=8, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["shortcut"]
        verbose_name = _("reply template")
        verbose_name_plural = _("reply templates")
        constraints = [
            models.UniqueConstraint(
                fields=["shortcut", "team", "language"],
                condition=Q(team__isnull=False),
                name="template_shortcut_unique_per_team",
            ),
            models.UniqueConstraint(
                fields=["shortcut", "language"],
                condition=Q(team__isnull=True),
                name="template_shortcut_unique_global",
            ),
        ]

    def __str__(self) -> str:
        return f"/{self.shortcut}"
