"""Routing by topic: which team and skill a conversation on a topic needs."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Team


class TopicRule(models.Model):
    """Routing by topic: a conversation on this topic goes to `team`'s queue (when set) and
    only to operators with `required_skill` (when set)."""

    topic = models.CharField(_("topic"), max_length=100, unique=True)
    team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="topic_rules",
        verbose_name=_("team"),
    )
    required_skill = models.ForeignKey(
        "accounts.Skill",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="topic_rules",
        verbose_name=_("required skill"),
    )

    class Meta:
        ordering = ["topic"]
        verbose_name = _("topic rule")
        verbose_name_plural = _("topic rules")

    def __str__(self) -> str:
        return self.topic
