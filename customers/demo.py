"""Demo data for the customer card: tiers, products with their allergens, orders with items,
allergies and preferences, promotions and a loyalty ledger for the demo customers.

Called by `manage.py seed_demo` after the demo conversations exist. Idempotent: orders are
upserted by their ids (accrual happens once), the rest is get-or-create.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from accounts.access import Capability, has_capability
from accounts.models import User
from customers import loyalty
from customers.models import Customer, LoyaltyTier, LoyaltyTransaction
from customers.offers import associations_rebuild
from customers.orders import customer_upsert, orders_upsert
from customers.serializers import BulkOrderSerializer

TIERS = [
    # name, threshold (12-month spend), accrual %, priority, perks
    ("Bronze", "0", "3", 0, "Points on every order."),
    ("Silver", "300", "5", 0, "Free delivery on weekends."),
    ("Gold", "1000", "8", 1, "Free delivery, a dessert on your birthday, priority support."),
]

MENU: dict[str, tuple[str, str, list[str]]] = {
    # sku: name, price, declared allergens
    "ROLL-SAL": ("Salmon roll", "9.50", ["fish"]),
    "ROLL-DRG": ("Dragon roll", "12.00", ["fish", "sesame", "eggs"]),
    "ROLL-VEG": ("Avocado roll", "7.00", []),
    "MISO": ("Miso soup", "3.50", ["soy"]),
    "TEA-GRN": ("Green tea", "2.00", []),
    "BAGEL": ("Sesame bagel", "3.00", ["sesame", "gluten"]),
    "CAKE-NUT": ("Walnut cake", "4.50", ["nuts", "gluten", "eggs"]),
    "MOCHI": ("Mango mochi", "4.00", []),
    "PIZZA-M": ("Pizza Margherita", "11.00", ["gluten", "lactose"]),
    "LEMONADE": ("Lemonade", "2.50", []),
}

# customer key (see seed_demo's CONVERSATIONS) -> identity, card, (orders, days back, baskets)
CUSTOMERS: dict[str, dict[str, Any]] = {
    "sv": {
        "emails": ["svetlana@example.com"],
        "birthday": "1988-04-12",
        "allergies": ["sesame"],
        "dislikes": ["coriander"],
        "favourites": ["Salmon roll"],
        "preferences": ["Leave at the door, ring twice"],
        "promotions": [{"code": "SPRING-ROLLS", "name": "Spring rolls week"}],
        "orders": (24, 330, [["ROLL-SAL", "MISO", "TEA-GRN"], ["ROLL-SAL", "ROLL-VEG", "MOCHI"]]),
        "modifiers": {"ROLL-SAL": ["no sesame"]},
    },
    "iv": {
        "phones": ["+7 916 555-01-02"],
        "allergies": ["nuts"],
        "favourites": ["Pizza Margherita"],
        "orders": (9, 200, [["PIZZA-M", "LEMONADE"], ["PIZZA-M", "CAKE-NUT"]]),
        "last_status": "in_delivery",
    },
    "ol": {
        "emails": ["olga.k@example.com"],
        "allergies": ["lactose"],
        "orders": (14, 300, [["ROLL-DRG", "MISO"], ["ROLL-VEG", "TEA-GRN", "MOCHI"]]),
    },
    "ma": {
        "emails": ["maria@partner.example"],
        "orders": (6, 240, [["PIZZA-M", "LEMONADE"]]),
        "lapsed_days": 70,
    },
    "js": {
        "emails": ["john.smith@example.com"],
        "allergies": ["gluten", "eggs"],
        "orders": (4, 60, [["ROLL-SAL", "TEA-GRN"], ["ROLL-VEG", "LEMONADE"]]),
    },
}


def _tiers() -> None:
    for name, threshold, percent, priority, perks in TIERS:
        LoyaltyTier.objects.get_or_create(
            name=name,
            defaults={
                "threshold": Decimal(threshold),
                "accrual_percent": Decimal(percent),
                "priority": priority,
                "perks": perks,
            },
        )


def _orders(key: str, spec: dict[str, Any]) -> list[dict[str, Any]]:
    count, days_back, baskets = spec["orders"]
    now = timezone.now()
    newest = now - timedelta(days=spec.get("lapsed_days", 1))
    step = (days_back - (now - newest).days) / max(count - 1, 1)
    rows = []
    for i in range(count):
        placed = newest - timedelta(days=step * (count - 1 - i), hours=i % 5)
        items = []
        for sku in baskets[i % len(baskets)]:
            name, price, allergens = MENU[sku]
            items.append(
                {
                    "sku": sku,
                    "name": name,
                    "quantity": 2 if sku.startswith("ROLL") and i % 3 == 0 else 1,
                    "price": price,
                    "modifiers": spec.get("modifiers", {}).get(sku, []),
                    "allergens": allergens,
                }
            )
        total = sum(Decimal(it["price"]) * it["quantity"] for it in items)
        last = i == count - 1
        status = spec.get("last_status", "completed") if last else "completed"
        rows.append(
            {
                "external_id": f"demo-{key}-{i + 1}",
                "customer": {"external_id": f"demo-{key}"},
                "placed_at": placed.isoformat(),
                "status": status,
                "status_changed_at": (placed + timedelta(hours=1)).isoformat(),
                "total": str(total),
                "currency": "EUR",
                "channel": "app" if i % 2 else "web",
                "address": "Moscow, Tverskaya 7, flat 12",
                "items": items,
            }
        )
    return rows


def seed_customers_demo() -> None:
    """Tiers, cards, orders and a small ledger for the demo customers. Idempotent."""
    _tiers()
    rows: list[tuple[int, dict[str, Any]]] = []
    for key, spec in CUSTOMERS.items():
        card = {k: v for k, v in spec.items() if k not in ("orders", "modifiers", "last_status")}
        card.pop("lapsed_days", None)
        customer_upsert(data={"external_id": f"demo-{key}", **card})
        for row in _orders(key, spec):
            serializer = BulkOrderSerializer(data=row)
            serializer.is_valid(raise_exception=True)
            rows.append((len(rows), serializer.validated_data))
    orders_upsert(rows=rows)
    associations_rebuild()
    admin = User.objects.filter(username="admin").first()
    svetlana = Customer.objects.filter(external_id="demo-sv").first()
    if (
        admin is not None
        and svetlana is not None
        and has_capability(admin, Capability.ADJUST_LOYALTY)
    ):
        already = LoyaltyTransaction.objects.filter(
            account__customer=svetlana, kind=LoyaltyTransaction.Kind.ADJUSTMENT
        ).exists()
        if not already:
            loyalty.loyalty_adjust(
                customer=svetlana,
                points=150,
                reason="Welcome bonus from the old loyalty card",
                actor=admin,
            )
            loyalty.loyalty_redeem(
                customer=svetlana, points=80, idempotency_key="demo-sv-checkout-1"
            )
