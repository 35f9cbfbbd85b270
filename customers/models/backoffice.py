"""The back-office systems (CRM, shop, checkout) allowed to call the back-office API."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class IntegrationClient(models.Model):
    """A back-office system (CRM, shop, checkout) calling `/api/v1/backoffice/…`.

    It sends `Authorization: Bearer <key>.<secret>`; only a hash of the secret is stored.
    Order-status webhooks are signed with `webhook_secret` (HMAC-SHA256).
    """

    name = models.CharField(_("name"), max_length=100, unique=True)
    key = models.CharField(_("key"), max_length=32, unique=True)
    secret_hash = models.CharField(_("secret (hash)"), max_length=128)
    webhook_secret = models.CharField(_("webhook signing secret"), max_length=128)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)

    class Meta:
        verbose_name = _("back-office client")
        verbose_name_plural = _("back-office clients")

    def __str__(self) -> str:
        return self.name
