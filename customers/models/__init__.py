"""Customers, the identities they reach us through, and the 360° card behind them: orders,
allergies and preferences, promotions and the loyalty ledger (docs/customers.md).

Writes live in `customers.orders`, `customers.loyalty` (and `customers.services` for
identities); reads in `customers.selectors`.

- `customers`: `LanguageSource`, `Customer`, `Identity`.
- `card`: `Allergen`, `CustomerTag`, `Product`, `Order`, `OrderItem`, `ItemAssociation`,
  `PromoParticipation`.
- `loyalty`: `LoyaltyTier`, `LoyaltyAccount`, `LoyaltyTransaction`, `TierChange`.
- `goodwill`: `GoodwillRequest`.
- `backoffice`: `IntegrationClient`.
- `merges`: `CustomerMerge`.

The submodules are imported in the order the models were declared in, so the app registry
lists them (and each model's reverse relations) in that order.
"""

# Declaration order (see above), not alphabetical.
# isort: off
from customers.models.customers import Customer, Identity, LanguageSource
from customers.models.card import (
    Allergen,
    CustomerTag,
    ItemAssociation,
    Order,
    OrderItem,
    Product,
    PromoParticipation,
)
from customers.models.loyalty import LoyaltyAccount, LoyaltyTier, LoyaltyTransaction, TierChange
from customers.models.goodwill import GoodwillRequest
from customers.models.backoffice import IntegrationClient
from customers.models.merges import CustomerMerge

# isort: on

__all__ = [
    "Allergen",
    "Customer",
    "CustomerMerge",
    "CustomerTag",
    "GoodwillRequest",
    "Identity",
    "IntegrationClient",
    "ItemAssociation",
    "LanguageSource",
    "LoyaltyAccount",
    "LoyaltyTier",
    "LoyaltyTransaction",
    "Order",
    "OrderItem",
    "Product",
    "PromoParticipation",
    "TierChange",
]
