"""The loyalty programme: tiers, one account per customer, its ledger and tier changes."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from customers.models.card import Order
from customers.models.customers import Customer


class LoyaltyTier(models.Model):
    """A level of the programme, reached by spend over the rolling window (12 months)."""

    name = models.CharField(_("name"), max_length=64, unique=True)
    threshold = models.DecimalField(
        _("spend threshold"),
        max_digits=12,
        decimal_places=2,
        unique=True,
        help_text=_("Completed orders over the last 12 months needed to reach this tier."),
    )
    accrual_percent = models.DecimalField(
        _("accrual (%)"),
        max_digits=5,
        decimal_places=2,
        help_text=_("Points earned per 100 of a completed order's total."),
    )
    perks = models.TextField(_("perks"), blank=True)
    # 0 normal, 1 high, 2 urgent: the least priority the tier's conversations get in the queue.
    priority = models.PositiveSmallIntegerField(
        _("conversation priority"),
        choices=[(0, _("normal")), (1, _("high")), (2, _("urgent"))],
        default=0,
    )

    class Meta:
        ordering = ["threshold"]
        verbose_name = _("loyalty tier")
        verbose_name_plural = _("loyalty tiers")
        constraints = [
            models.CheckConstraint(
                condition=Q(threshold__gte=0) & Q(accrual_percent__gte=0) & Q(priority__lte=2),
                name="loyaltytier_values_valid",
            )
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        """The name to show people: a shipped tier's in their language (`customers.tiers`)."""
        from customers.tiers import tier_name

        return tier_name(self)

    @property
    def display_perks(self) -> str:
        from customers.tiers import tier_perks

        return tier_perks(self)


class LoyaltyAccount(models.Model):
    """One per customer. Its row is the lock every ledger write takes; `tier` is the tier
    derived from the ledger at the last change (kept so a change can be recorded)."""

    customer = models.OneToOneField(
        Customer, on_delete=models.PROTECT, related_name="loyalty", verbose_name=_("customer")
    )
    tier = models.ForeignKey(
        LoyaltyTier,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("tier"),
    )
    tier_since = models.DateTimeField(_("tier since"), null=True, blank=True)
    # The periodic sweep's mark: credits expired and spend that left the window up to this
    # time have been dealt with (written off; tier re-derived).
    swept_until = models.DateTimeField(_("swept until"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("loyalty account")
        verbose_name_plural = _("loyalty accounts")
        indexes = [models.Index(fields=["tier"], name="loyaltyaccount_tier")]

    def __str__(self) -> str:
        return str(self.customer)


class LoyaltyTransaction(models.Model):
    """One line of the ledger. Never edited or deleted: the balance is the sum of `points`,
    the tier follows the sum of `spend` over the rolling window."""

    class Kind(models.TextChoices):
        ACCRUAL = "accrual", _("accrual")
        ACCRUAL_REVERSAL = "reversal", _("accrual reversed")
        REDEMPTION = "redemption", _("redemption")
        REDEMPTION_CANCEL = "cancel", _("redemption cancelled")
        EXPIRY = "expiry", _("expiry")
        ADJUSTMENT = "adjustment", _("manual adjustment")
        GOODWILL = "goodwill", _("goodwill")

    account = models.ForeignKey(
        LoyaltyAccount,
        on_delete=models.PROTECT,
        related_name="transactions",
        verbose_name=_("account"),
    )
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    points = models.IntegerField(_("points"))
    # The order total counted towards the tier (accruals; negative on reversal).
    spend = models.DecimalField(_("spend"), max_digits=12, decimal_places=2, default=0)
    order = models.ForeignKey(
        Order,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="loyalty_transactions",
        verbose_name=_("order"),
    )
    idempotency_key = models.CharField(  # noqa: DJ001 - NULL: unique only where given
        _("idempotency key"), max_length=100, null=True, blank=True
    )
    reference = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("cancels"),
    )
    # When it counts: an accrual at the order's completion (so an import of old orders lands
    # in the right window), everything else when written.
    effective_at = models.DateTimeField(_("effective at"))
    # Credits expire: the expiry job writes off what is left of them after this time.
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("by"),
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("approved by"),
    )
    # The conversation a goodwill grant was made from (chats is not imported here).
    conversation_id = models.BigIntegerField(_("conversation"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("loyalty transaction")
        verbose_name_plural = _("loyalty ledger")
        indexes = [
            models.Index(fields=["account", "effective_at"], name="loyaltytx_account"),
            models.Index(
                fields=["expires_at"], name="loyaltytx_expiring", condition=Q(points__gt=0)
            ),
            models.Index(fields=["effective_at"], name="loyaltytx_spend", condition=~Q(spend=0)),
        ]
        constraints = [
            # Accrual (and its reversal) once per order, whatever the retries.
            models.UniqueConstraint(
                fields=["account", "kind", "order"],
                condition=Q(order__isnull=False),
                name="loyaltytx_once_per_order",
            ),
            models.UniqueConstraint(
                fields=["account", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="loyaltytx_idempotency_key",
            ),
            models.UniqueConstraint(
                fields=["reference"],
                condition=Q(kind="cancel"),
                name="loyaltytx_cancel_once",
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind__in=["accrual", "cancel", "goodwill"], points__gte=0)
                    | Q(kind__in=["reversal", "redemption", "expiry"], points__lte=0)
                    | Q(kind="adjustment")
                ),
                name="loyaltytx_sign_matches_kind",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=["accrual", "reversal"]) | Q(order__isnull=False),
                name="loyaltytx_accrual_has_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.points:+d}"


class TierChange(models.Model):
    """Every move between tiers, with the rolling spend that caused it."""

    account = models.ForeignKey(
        LoyaltyAccount,
        on_delete=models.PROTECT,
        related_name="tier_changes",
        verbose_name=_("account"),
    )
    from_tier = models.ForeignKey(
        LoyaltyTier,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("from"),
    )
    to_tier = models.ForeignKey(
        LoyaltyTier,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("to"),
    )
    spend = models.DecimalField(_("rolling spend"), max_digits=14, decimal_places=2)
    at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = _("tier change")
        verbose_name_plural = _("tier changes")

    def __str__(self) -> str:
        return f"{self.from_tier or '—'} → {self.to_tier or '—'}"
