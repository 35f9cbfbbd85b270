"""Inboxes: the channel endpoints conversations arrive through, with their keys."""

from __future__ import annotations

import re
import secrets

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Team

WIDGET_COLOR = re.compile(r"#[0-9a-fA-F]{3,8}")


def _new_key() -> str:
    return secrets.token_urlsafe(12)


def _new_secret() -> str:
    return secrets.token_urlsafe(32)


class Inbox(models.Model):
    """A channel endpoint: one Telegram bot, one website widget, one mobile app, one API client.

    `key` is public (it names the inbox in URLs such as the widget's); `secret` authenticates
    the channel's own calls (API posts, HMAC signatures) and is never shown back in full.
    """

    class Kind(models.TextChoices):
        WIDGET = "widget", _("website widget")
        TELEGRAM = "telegram", _("Telegram")
        MOBILE = "mobile", _("mobile app")
        API = "api", _("API")

    name = models.CharField(_("name"), max_length=100, unique=True)
    kind = models.CharField(_("channel"), max_length=16, choices=Kind.choices)
    default_team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("default team"),
    )
    key = models.CharField(_("public key"), max_length=32, unique=True, default=_new_key)
    secret = models.CharField(_("secret"), max_length=64, default=_new_secret)
    settings = models.JSONField(_("settings"), default=dict, blank=True)
    # Channel credentials and wiring (docs/channels.md). The bot token, like the secret, is
    # never shown back in full.
    bot_token = models.CharField(
        _("Telegram bot token"),
        max_length=200,
        blank=True,
        help_text=_("From @BotFather. Telegram inboxes only."),
    )
    allowed_origins = models.TextField(
        _("allowed origins"),
        blank=True,
        help_text=_(
            "Websites that may embed the widget or call the client API from a browser, one per "
            "line, e.g. https://shop.example.com."
        ),
    )
    push_url = models.URLField(
        _("push webhook URL"),
        max_length=500,
        blank=True,
        help_text=_(
            "Mobile app inboxes: the app backend's URL that receives every operator reply, "
            "signed with the inbox secret, to send a push notification."
        ),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("inbox")
        verbose_name_plural = _("inboxes")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        options = self.settings if isinstance(self.settings, dict) else {}
        color = options.get("widget_color")
        if color and not WIDGET_COLOR.fullmatch(str(color)):
            raise ValidationError(
                {"settings": _("widget_color must be a hex colour such as #2457c5.")}
            )

    @property
    def origins(self) -> list[str]:
        """The allow-listed browser origins, normalised (scheme://host[:port], no slash)."""
        return [
            line.strip().rstrip("/").lower()
            for line in self.allowed_origins.splitlines()
            if line.strip()
        ]
