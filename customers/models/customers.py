"""Customers, where their language came from, and the identities they reach us through."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class LanguageSource(models.IntegerChoices):
    """Where the customer's language came from, ranked: a firmer source is never overwritten
    by a weaker one (customers.languages)."""

    HINT = 1, _("browser's guess")
    CHANNEL = 2, _("said by a messenger or the app")
    EXPLICIT = 3, _("set by a person or the business")


class Customer(models.Model):
    # The back office's own id for this person: orders and the checkout refer to it.
    # NULL, not "": customers met on a channel have none, and must not collide in the index.
    external_id = models.CharField(
        _("back-office id"), max_length=64, unique=True, null=True, blank=True
    )
    first_name = models.CharField(_("first name"), max_length=150, blank=True)
    last_name = models.CharField(_("last name"), max_length=150, blank=True)
    language = models.CharField(_("language"), max_length=8, blank=True)
    # Meaningless while `language` is empty (anything fills an empty language).
    language_source = models.PositiveSmallIntegerField(
        _("language source"), choices=LanguageSource.choices, default=LanguageSource.HINT
    )
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        full = f"{self.first_name} {self.last_name}".strip()
        return full or _("Customer #%(id)s") % {"id": self.pk}


class Identity(models.Model):
    """One way to reach a customer; `(kind, value)` is unique across all customers."""

    class Kind(models.TextChoices):
        PHONE = "phone", _("phone")
        EMAIL = "email", _("email")
        TELEGRAM = "telegram", _("Telegram")
        APP = "app", _("mobile app")
        WIDGET = "widget", _("website visitor")

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="identities", verbose_name=_("customer")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    value = models.CharField(_("value"), max_length=255)
    verified = models.BooleanField(_("verified"), default=False)
    unreachable_at = models.DateTimeField(_("unreachable since"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("identity")
        verbose_name_plural = _("identities")
        constraints = [
            models.UniqueConstraint(fields=["kind", "value"], name="identity_kind_value_unique")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.value}"
