"""Shapes of the customers API: what the back office sends (customers, orders, bulk, status
webhook, checkout) and what goes out (the card, the balance, the ledger).

Serializers only parse and render; the services decide. The same order serializer validates
the API, the bulk endpoint and the CSV import, so a row is judged the same everywhere.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from customers.languages import language_validate
from customers.models import (
    Allergen,
    LoyaltyTransaction,
    Order,
    PromoParticipation,
)
from customers.orders import MAX_BULK

# --- fields ---------------------------------------------------------------------------------
# Choice sets documented inline: their field names ("status", "allergies") are shared with
# other choice sets of the API, and a named enum component would collide.


def _inline_choices(choices: list[tuple[str, Any]], description: str) -> dict[str, Any]:
    # No "enum" key: the schema's enum post-processing would lift it into a named component.
    values = ", ".join(f"`{value}`" for value, _label in choices)
    return {"type": "string", "description": f"{description} One of {values}."}


@extend_schema_field(_inline_choices(Order.Status.choices, "The order's status."))
class OrderStatusField(serializers.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=Order.Status.choices, **kwargs)


@extend_schema_field(_inline_choices(PromoParticipation.Status.choices, "Participation."))
class PromoStatusField(serializers.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=PromoParticipation.Status.choices, **kwargs)


@extend_schema_field(_inline_choices(Allergen.choices, "An allergen."))
class AllergenField(serializers.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=Allergen.choices, **kwargs)


# --- what comes in ------------------------------------------------------------------------


class PromotionInSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=200)
    status = PromoStatusField(default=PromoParticipation.Status.JOINED)
    joined_at = serializers.DateTimeField(required=False, allow_null=True)
    ends_at = serializers.DateTimeField(required=False, allow_null=True)


def _tag_list(**kwargs: Any) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, max_length=100, **kwargs
    )


class CustomerUpsertSerializer(serializers.Serializer):
    """A customer as the back office knows them. A list that is given replaces what we
    stored; a list left out is left alone."""

    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    language = serializers.CharField(
        max_length=35,
        required=False,
        allow_blank=True,
        help_text="A language code such as `ru` or `en-GB`; stored without the region. Set by "
        "the back office, it outranks what a messenger or a browser says.",
    )
    birthday = serializers.DateField(required=False, allow_null=True)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    phones = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, max_length=10
    )
    emails = serializers.ListField(
        child=serializers.EmailField(max_length=254), required=False, max_length=10
    )
    allergies = serializers.ListField(child=AllergenField(), required=False, max_length=20)
    dislikes = _tag_list()
    favourites = _tag_list()
    preferences = _tag_list()
    promotions = PromotionInSerializer(many=True, required=False, max_length=100)

    def validate_language(self, value: str) -> str:
        try:
            return language_validate(value)
        except ValueError as problem:
            raise serializers.ValidationError(str(problem)) from None


class CustomerRefInSerializer(serializers.Serializer):
    """The customer of an order: created if the back office has not sent them yet."""

    external_id = serializers.CharField(max_length=64)
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=64, required=False, allow_blank=True)
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True)


class OrderItemInSerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=200)
    quantity = serializers.IntegerField(min_value=1, max_value=10_000, default=1)
    price = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)
    modifiers = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False, max_length=50
    )
    allergens = serializers.ListField(
        child=AllergenField(),
        required=False,
        allow_null=True,
        help_text="What the item contains, if the back office knows: offers rely on it.",
    )


class OrderUpsertSerializer(serializers.Serializer):
    """An order. `items`, when given, replace the order's items. `status_changed_at` orders
    status updates: an older one than stored is ignored (defaults to `placed_at`)."""

    customer = CustomerRefInSerializer()
    placed_at = serializers.DateTimeField()
    status = OrderStatusField(default=Order.Status.PLACED)
    status_changed_at = serializers.DateTimeField(required=False, allow_null=True)
    total = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)
    currency = serializers.RegexField(r"^[A-Z]{3}$", max_length=3, help_text="ISO 4217, e.g. EUR.")
    channel = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    address = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")
    items = OrderItemInSerializer(many=True, required=False, max_length=500)


class BulkOrderSerializer(OrderUpsertSerializer):
    external_id = serializers.CharField(max_length=64)


class BulkOrdersSerializer(serializers.Serializer):
    """The envelope: a list of at most 1,000 orders. Each row is judged on its own."""

    orders = serializers.ListField(
        child=serializers.JSONField(),
        min_length=1,
        max_length=MAX_BULK,
        help_text=f"Up to {MAX_BULK} objects shaped like `BulkOrder`.",
    )


class OrderStatusWebhookSerializer(serializers.Serializer):
    external_id = serializers.CharField(max_length=64)
    status = OrderStatusField()
    changed_at = serializers.DateTimeField(required=False, allow_null=True)


class RedeemSerializer(serializers.Serializer):
    points = serializers.IntegerField(min_value=1, max_value=10_000_000)
    idempotency_key = serializers.CharField(
        max_length=100, help_text="The checkout's own id for this attempt: retries reuse it."
    )
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class CancelRedemptionSerializer(serializers.Serializer):
    idempotency_key = serializers.CharField(max_length=100)


class AdjustSerializer(serializers.Serializer):
    points = serializers.IntegerField(min_value=-10_000_000, max_value=10_000_000)
    reason = serializers.CharField(max_length=300)


class GoodwillDecisionSerializer(serializers.Serializer):
    approve = serializers.BooleanField()


# --- what goes out ------------------------------------------------------------------------


class BulkRowErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the row in `orders`, from 0.")
    external_id = serializers.CharField(allow_null=True)
    errors = serializers.DictField(help_text="Field -> messages, as for a single order.")


class BulkRowWarningSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    external_id = serializers.CharField()
    warnings = serializers.ListField(child=serializers.CharField())


class BulkResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    rejected = serializers.IntegerField()
    errors = BulkRowErrorSerializer(many=True)
    warnings = BulkRowWarningSerializer(many=True)


class UpsertResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()
    created = serializers.BooleanField()
    warnings = serializers.ListField(child=serializers.CharField())


class StatusResultSerializer(serializers.Serializer):
    external_id = serializers.CharField()
    status = OrderStatusField()
    applied = serializers.BooleanField(help_text="False: older than the status we have.")


class TierSerializer(serializers.Serializer):
    name = serializers.CharField()
    threshold = serializers.DecimalField(max_digits=12, decimal_places=2)
    accrual_percent = serializers.DecimalField(max_digits=5, decimal_places=2)
    perks = serializers.CharField()


class BalanceSerializer(serializers.Serializer):
    customer_external_id = serializers.CharField(allow_null=True)
    balance = serializers.IntegerField()
    tier = TierSerializer(allow_null=True)
    spend_12_months = serializers.DecimalField(max_digits=14, decimal_places=2)
    next_tier = TierSerializer(allow_null=True)
    to_next_tier = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)


class LedgerLineSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=LoyaltyTransaction.Kind.choices)
    points = serializers.IntegerField()
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()


class RedemptionResultSerializer(serializers.Serializer):
    transaction = LedgerLineSerializer()
    created = serializers.BooleanField(help_text="False: this key was seen before; nothing new.")
    balance = serializers.IntegerField()


class GoodwillRequestSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    points = serializers.IntegerField()
    reason = serializers.CharField()
    status = serializers.CharField()
    transaction_id = serializers.IntegerField(allow_null=True)


class ContactSerializer(serializers.Serializer):
    kind = serializers.CharField()
    value = serializers.CharField(
        help_text="Masked for roles without the personal-data capability."
    )
    masked = serializers.BooleanField()


class OrderItemOutSerializer(serializers.Serializer):
    sku = serializers.CharField()
    name = serializers.CharField()
    quantity = serializers.IntegerField()
    price = serializers.DecimalField(max_digits=12, decimal_places=2)
    modifiers = serializers.ListField(child=serializers.CharField())


class CardOrderSerializer(serializers.Serializer):
    external_id = serializers.CharField(source="order.external_id")
    placed_at = serializers.DateTimeField(source="order.placed_at")
    status = serializers.CharField(source="order.status")
    total = serializers.DecimalField(max_digits=12, decimal_places=2, source="order.total")
    currency = serializers.CharField(source="order.currency")
    channel = serializers.CharField(source="order.channel")
    address = serializers.CharField(help_text="Hidden without the personal-data capability.")
    items = OrderItemOutSerializer(many=True)
    allergy_warnings = serializers.ListField(child=serializers.CharField(), source="warnings")


class OfferSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=[
            ("favourite", _("favourite item")),
            ("together", _("often bought together")),
            ("next_tier", _("close to the next tier")),
            ("lapsed", _("lapsed customer")),
        ]
    )
    title = serializers.CharField()
    text = serializers.CharField()
    sku = serializers.CharField()


class PromotionOutSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    status = serializers.CharField()
    ends_at = serializers.DateTimeField(allow_null=True)


class LoyaltyOutSerializer(serializers.Serializer):
    balance = serializers.IntegerField()
    tier = serializers.CharField(source="tier.name", allow_null=True, default=None)
    spend_12_months = serializers.DecimalField(max_digits=14, decimal_places=2, source="spend")
    next_tier = serializers.CharField(source="next_tier.name", allow_null=True, default=None)
    to_next_tier = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)


class CardSerializer(serializers.Serializer):
    """The customer card, as on the operator's side panel."""

    id = serializers.IntegerField(source="customer.pk")
    external_id = serializers.CharField(source="customer.external_id", allow_null=True)
    name = serializers.CharField(source="customer.name")
    first_name = serializers.CharField(source="customer.first_name")
    language = serializers.CharField(source="customer.language")
    contacts = ContactSerializer(many=True)
    allergies = serializers.SerializerMethodField()
    dislikes = serializers.ListField(child=serializers.CharField())
    favourites = serializers.ListField(child=serializers.CharField())
    preferences = serializers.ListField(child=serializers.CharField())
    order_count = serializers.IntegerField()
    lifetime_spend = serializers.DecimalField(max_digits=14, decimal_places=2)
    last_orders = CardOrderSerializer(many=True, source="orders")
    loyalty = LoyaltyOutSerializer()
    promotions = PromotionOutSerializer(many=True)
    offers = OfferSerializer(many=True)

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_allergies(self, card: Any) -> list[str]:
        return [code for code, _label in card.allergies]
