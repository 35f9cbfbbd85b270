"""Customers, the identities they reach us through, and the 360° card behind them: orders,
allergies and preferences, promotions and the loyalty ledger (docs/customers.md).

Writes live in `customers.orders`, `customers.loyalty` (and `customers.services` for
identities); reads in `customers.selectors`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
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


# --- the card: preferences, allergies, orders, promotions ------------------------------------


class Allergen(models.TextChoices):
    """The allergens a customer can declare; `customers.allergens` knows the words for each."""

    SESAME = "sesame", _("sesame")
    NUTS = "nuts", _("nuts")
    PEANUTS = "peanuts", _("peanuts")
    GLUTEN = "gluten", _("gluten")
    LACTOSE = "lactose", _("lactose")
    EGGS = "eggs", _("eggs")
    FISH = "fish", _("fish")
    SHELLFISH = "shellfish", _("shellfish")
    SOY = "soy", _("soy")
    CELERY = "celery", _("celery")
    MUSTARD = "mustard", _("mustard")


class CustomerTag(models.Model):
    """A structured fact about the customer's taste: an allergen (one of `Allergen`), a
    dislike, a favourite item or a free preference ("no onion", "call before delivery")."""

    class Kind(models.TextChoices):
        ALLERGEN = "allergen", _("allergy")
        DISLIKE = "dislike", _("dislike")
        FAVOURITE = "favourite", _("favourite")
        PREFERENCE = "preference", _("preference")

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="tags", verbose_name=_("customer")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    value = models.CharField(_("value"), max_length=100)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("preference or allergy")
        verbose_name_plural = _("preferences and allergies")
        ordering = ["kind", "value"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "kind", "value"], name="customertag_unique"
            ),
            models.CheckConstraint(
                condition=~Q(kind="allergen") | Q(value__in=Allergen.values),
                name="customertag_allergen_known",
            ),
        ]

    def __str__(self) -> str:
        if self.kind == self.Kind.ALLERGEN:
            return str(Allergen(self.value).label)
        return self.value


class Product(models.Model):
    """What the back office sells, by SKU: offers are made of products, and a product's
    allergens decide whom it may never be offered to."""

    sku = models.CharField(_("SKU"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    allergens = models.JSONField(_("allergens"), default=list, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"


class Order(models.Model):
    class Status(models.TextChoices):
        PLACED = "placed", _("placed")
        CONFIRMED = "confirmed", _("confirmed")
        IN_DELIVERY = "in_delivery", _("in delivery")
        COMPLETED = "completed", _("completed")
        CANCELLED = "cancelled", _("cancelled")
        REFUNDED = "refunded", _("refunded")

    external_id = models.CharField(_("back-office id"), max_length=64, unique=True)
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="orders", verbose_name=_("customer")
    )
    placed_at = models.DateTimeField(_("placed at"))
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.PLACED
    )
    # The back office's time for the status: an older status arriving late never wins.
    status_changed_at = models.DateTimeField(_("status changed at"))
    total = models.DecimalField(_("total"), max_digits=12, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    channel = models.CharField(_("sales channel"), max_length=32, blank=True)
    address = models.TextField(_("delivery address"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        indexes = [models.Index(fields=["customer", "-placed_at"], name="order_customer_recent")]
        constraints = [
            models.CheckConstraint(condition=Q(total__gte=0), name="order_total_not_negative"),
        ]

    def __str__(self) -> str:
        return self.external_id


class OrderItem(models.Model):
    order = models.ForeignKey(
        Order, on_delete=models.CASCADE, related_name="items", verbose_name=_("order")
    )
    sku = models.CharField(_("SKU"), max_length=64)
    name = models.CharField(_("name"), max_length=200)
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    price = models.DecimalField(_("price"), max_digits=12, decimal_places=2)
    modifiers = models.JSONField(_("modifiers"), default=list, blank=True)

    class Meta:
        verbose_name = _("order item")
        verbose_name_plural = _("order items")
        indexes = [models.Index(fields=["sku"], name="orderitem_sku")]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.name}"


class ItemAssociation(models.Model):
    """How many orders (of all customers) contain both SKUs: "often bought together".
    Rebuilt by a periodic task in one SQL statement; both directions are stored."""

    sku = models.CharField(_("SKU"), max_length=64)
    other_sku = models.CharField(_("bought with"), max_length=64)
    orders = models.PositiveIntegerField(_("orders"))

    class Meta:
        verbose_name = _("item association")
        verbose_name_plural = _("item associations")
        constraints = [
            models.UniqueConstraint(fields=["sku", "other_sku"], name="itemassociation_unique")
        ]

    def __str__(self) -> str:
        return f"{self.sku} + {self.other_sku}: {self.orders}"


class PromoParticipation(models.Model):
    class Status(models.TextChoices):
        INVITED = "invited", _("invited")
        JOINED = "joined", _("joined")
        COMPLETED = "completed", _("completed")

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="promotions", verbose_name=_("customer")
    )
    code = models.CharField(_("promotion code"), max_length=64)
    name = models.CharField(_("promotion"), max_length=200)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.JOINED
    )
    joined_at = models.DateTimeField(_("joined at"), null=True, blank=True)
    ends_at = models.DateTimeField(_("ends at"), null=True, blank=True)

    class Meta:
        verbose_name = _("promotion participation")
        verbose_name_plural = _("promotion participations")
        constraints = [
            models.UniqueConstraint(fields=["customer", "code"], name="promo_customer_code_unique")
        ]

    def __str__(self) -> str:
        return self.name


# --- loyalty -----------------------------------------------------------------------------------


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


# --- the back office -----------------------------------------------------------------------------


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


# --- one customer across channels (docs/channels.md) ------------------------------------------


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
