"""Reads for the customer card, the loyalty API and the queue (`loyalty_priority`).

Personal data (phones, e-mails, delivery addresses) is shown in full only to roles with
`Capability.VIEW_CUSTOMER_PII`; the card and the API both build on `customer_card()`, which
masks them otherwise. The card costs a fixed number of queries whatever the number of orders.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Count, Max, Prefetch, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.utils import timezone

from accounts.access import Capability, has_capability
from customers.allergens import Conflict, allergens_in, conflicts
from customers.loyalty import WINDOW
from customers.models import (
    Allergen,
    Customer,
    CustomerTag,
    GoodwillRequest,
    LoyaltyAccount,
    LoyaltyTier,
    LoyaltyTransaction,
    Order,
    OrderItem,
    Product,
    PromoParticipation,
)
from customers.offers import Offer, offers_for

LAST_ORDERS = 5
HIDDEN = "•••"


def mask_value(value: str) -> str:
    """Enough of a phone or an e-mail to recognise it, not enough to copy it."""
    if "@" in value:
        name, _at, domain = value.partition("@")
        return f"{name[:1]}{HIDDEN}@{domain}"
    if len(value) <= 4:
        return HIDDEN
    return f"{value[:2]}{HIDDEN}{value[-2:]}"


def customer_by_external_id(external_id: str) -> Customer:
    return get_object_or_404(Customer, external_id=external_id)


# --- loyalty ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoyaltySummary:
    balance: int
    tier: LoyaltyTier | None
    tier_since: datetime | None
    spend: Decimal  # completed orders in the rolling window
    next_tier: LoyaltyTier | None
    to_next_tier: Decimal | None
    pending_goodwill: int = 0


def loyalty_summary(customer_id: int, *, now: datetime | None = None) -> LoyaltySummary:
    """Balance and tier as the ledger says now (three queries; no account: all zero)."""
    now = now or timezone.now()
    account = (
        LoyaltyAccount.objects.select_related("tier")
        .filter(customer_id=customer_id)
        .annotate(
            pending=Count(
                "goodwill_requests",
                filter=Q(goodwill_requests__status=GoodwillRequest.Status.PENDING),
            )
        )
        .first()
    )
    tiers = list(LoyaltyTier.objects.order_by("threshold"))
    if account is None:
        balance, spend = 0, Decimal("0")
    else:
        sums = LoyaltyTransaction.objects.filter(account=account).aggregate(
            balance=Coalesce(Sum("points"), 0),
            spend=Coalesce(
                Sum("spend", filter=Q(effective_at__gt=now - WINDOW, effective_at__lte=now)),
                Value(Decimal("0")),
            ),
        )
        balance, spend = sums["balance"], sums["spend"]
    tier = account.tier if account else None
    upper = [t for t in tiers if t.threshold > (tier.threshold if tier else Decimal("-1"))]
    next_tier = upper[0] if upper else None
    return LoyaltySummary(
        balance=balance,
        tier=tier,
        tier_since=account.tier_since if account else None,
        spend=spend,
        next_tier=next_tier,
        to_next_tier=max(next_tier.threshold - spend, Decimal("0")) if next_tier else None,
        pending_goodwill=account.pending if account else 0,
    )


def loyalty_priority(customer_id: int) -> int | None:
    """The least conversation priority (0 normal, 1 high, 2 urgent) the customer's current
    loyalty tier deserves, or None (no tier, or a tier without a priority). One query."""
    priority = (
        LoyaltyAccount.objects.filter(customer_id=customer_id, tier__isnull=False)
        .values_list("tier__priority", flat=True)
        .first()
    )
    return priority or None


def loyalty_ledger(customer_id: int, *, limit: int = 50) -> list[LoyaltyTransaction]:
    return list(
        LoyaltyTransaction.objects.filter(account__customer_id=customer_id)
        .select_related("actor", "approved_by", "order")
        .order_by("-created_at", "-pk")[:limit]
    )


def goodwill_pending() -> Any:
    return GoodwillRequest.objects.filter(status=GoodwillRequest.Status.PENDING).select_related(
        "account__customer", "requested_by"
    )


# --- the card ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShownContact:
    kind: str
    label: str
    value: str
    masked: bool


@dataclass(frozen=True)
class ShownOrder:
    order: Order
    address: str
    items: list[OrderItem]
    warnings: list[str]  # allergens of the customer named by an item


@dataclass
class Card:
    customer: Customer
    show_pii: bool
    contacts: list[ShownContact]
    allergies: list[tuple[str, str]]  # (allergen, label)
    dislikes: list[str]
    favourites: list[str]
    preferences: list[str]
    orders: list[ShownOrder]
    order_count: int
    lifetime_spend: Decimal
    last_order_at: datetime | None
    loyalty: LoyaltySummary
    promotions: list[PromoParticipation]
    offers: list[Offer] = field(default_factory=list)

    @property
    def allergen_codes(self) -> set[str]:
        return {code for code, _label in self.allergies}

    @property
    def last_order(self) -> ShownOrder | None:
        return self.orders[0] if self.orders else None


def customer_card(
    customer: Customer, *, user: Any, orders: int = LAST_ORDERS, now: datetime | None = None
) -> Card:
    """Everything the operator sees about the customer. Queries, whatever the history:
    contacts, tags, last orders, their items, order totals, loyalty (3), promotions, offers (4)."""
    now = now or timezone.now()
    show_pii = has_capability(user, Capability.VIEW_CUSTOMER_PII)
    contacts = [
        ShownContact(
            kind=identity.kind,
            label=str(identity.get_kind_display()),
            value=identity.value if show_pii else mask_value(identity.value),
            masked=not show_pii,
        )
        for identity in customer.identities.order_by("kind", "value")
    ]
    tags: dict[str, list[str]] = {k: [] for k in CustomerTag.Kind.values}
    for kind, value in customer.tags.values_list("kind", "value"):
        tags[kind].append(value)
    allergies = [
        (code, str(Allergen(code).label)) for code in sorted(tags[CustomerTag.Kind.ALLERGEN])
    ]
    allergy_codes = {code for code, _label in allergies}
    recent = list(
        customer.orders.order_by("-placed_at", "-pk").prefetch_related(
            Prefetch("items", queryset=OrderItem.objects.order_by("pk"))
        )[:orders]
    )
    totals = customer.orders.aggregate(
        count=Count("pk"),
        spend=Coalesce(Sum("total", filter=Q(status=Order.Status.COMPLETED)), Value(Decimal("0"))),
        last=Max("placed_at"),
    )
    shown_orders = []
    for order in recent:
        items = list(order.items.all())
        # What the order names of her allergens: "Salmon roll (no sesame)" is the safe kind.
        named = allergens_in(
            " ".join(f"{item.name} {' '.join(map(str, item.modifiers or []))}." for item in items),
            skip_negated=True,
        )
        warnings = sorted(str(Allergen(a).label) for a in set(named) & allergy_codes)
        shown_orders.append(
            ShownOrder(
                order=order,
                address=order.address if show_pii else (HIDDEN if order.address else ""),
                items=items,
                warnings=warnings,
            )
        )
    loyalty = loyalty_summary(customer.pk, now=now)
    card = Card(
        customer=customer,
        show_pii=show_pii,
        contacts=contacts,
        allergies=allergies,
        dislikes=sorted(tags[CustomerTag.Kind.DISLIKE]),
        favourites=sorted(tags[CustomerTag.Kind.FAVOURITE]),
        preferences=sorted(tags[CustomerTag.Kind.PREFERENCE]),
        orders=shown_orders,
        order_count=totals["count"],
        lifetime_spend=totals["spend"],
        last_order_at=totals["last"],
        loyalty=loyalty,
        promotions=list(customer.promotions.order_by("-joined_at", "-pk")[:10]),
    )
    card.offers = offers_for(
        customer_id=customer.pk,
        allergies=allergy_codes,
        last_order_at=totals["last"],
        spend=loyalty.spend,
        next_threshold=loyalty.next_tier.threshold if loyalty.next_tier else None,
        next_tier_name=loyalty.next_tier.display_name if loyalty.next_tier else "",
        now=now,
    )
    return card


def customer_allergies(customer_id: int) -> set[str]:
    return set(
        CustomerTag.objects.filter(
            customer_id=customer_id, kind=CustomerTag.Kind.ALLERGEN
        ).values_list("value", flat=True)
    )


def allergy_conflicts(customer_id: int, text: str) -> list[Conflict]:
    """The customer's allergies that `text` names: an ingredient word, or a product the back
    office declared as containing it. Two queries; none when the customer has no allergy."""
    allergies = customer_allergies(customer_id)
    if not allergies or not text.strip():
        return []
    # Products declared with one of these allergens, whose name the text may mention. The
    # catalogue is small (a menu); filtered here so that SQLite (embedded mode) works too.
    products = {
        name.lower(): set(declared) & allergies
        for name, declared in Product.objects.exclude(allergens=[]).values_list(
            "name", "allergens"
        )[:5000]
        if set(declared) & allergies
    }
    return conflicts(text, allergies, products=products)


# --- reply-template placeholders (chats.services.templates) -----------------------------------


def last_order_items_text(customer_id: int) -> str:
    """The items of the customer's last order, "2 × Salmon roll, 1 × Miso soup" (2 queries)."""
    order = Order.objects.filter(customer_id=customer_id).order_by("-placed_at", "-pk").first()
    if order is None:
        return ""
    return ", ".join(
        f"{quantity} × {name}"
        for quantity, name in order.items.order_by("pk").values_list("quantity", "name")
    )


def allergies_text(customer_id: int) -> str:
    return ", ".join(sorted(str(Allergen(code).label) for code in customer_allergies(customer_id)))


def top_offer_text(customer_id: int, *, now: datetime | None = None) -> str:
    """The text of the customer's best offer right now ("" if none): `{{ customer.offer }}`."""
    loyalty = loyalty_summary(customer_id, now=now)
    last = Order.objects.filter(customer_id=customer_id).aggregate(last=Max("placed_at"))["last"]
    found = offers_for(
        customer_id=customer_id,
        allergies=customer_allergies(customer_id),
        last_order_at=last,
        spend=loyalty.spend,
        next_threshold=loyalty.next_tier.threshold if loyalty.next_tier else None,
        next_tier_name=loyalty.next_tier.display_name if loyalty.next_tier else "",
        now=now,
    )
    return found[0].text if found else ""
