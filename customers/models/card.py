"""The customer card: preferences and allergies, the products and orders of the back office,
items often bought together, and promotions.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from customers.models.customers import Customer


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
