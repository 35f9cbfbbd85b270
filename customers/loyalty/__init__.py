"""Writes to the loyalty ledger (docs/customers.md, "Loyalty").

Every write locks the customer's `LoyaltyAccount` row first (`SELECT … FOR UPDATE`), then reads
the balance as the sum of the ledger and appends a line. Two writers on one account therefore
run one after the other and the second sees the first's line: a redemption can never overdraw,
whatever number of checkouts ask at once. The unique constraints of `LoyaltyTransaction`
(one accrual per order, one line per idempotency key, one cancellation per redemption) are the
backstop that makes retries harmless even outside the lock.

- `rules.py`: the rolling windows, the refusals, and the reads the writes rely on (balance,
  rolling spend, the tier a spend reaches, points for a total);
- `accounts.py`: an account created on first use, the row lock (one account or many), and the
  tier re-derived from a locked account's spend;
- `accrual.py`: orders settled against the ledger (accrual and its reversal);
- `checkout.py`: redemption under an idempotency key, and its cancellation;
- `grants.py`: manual adjustments and goodwill (role limits, requests and their decision);
- `sweep.py`: the periodic sweep (expiry, tiers as spend leaves the window).
"""

from customers.loyalty.accounts import loyalty_account_get
from customers.loyalty.accrual import loyalty_orders_settle
from customers.loyalty.checkout import Redemption, loyalty_redeem, loyalty_redemption_cancel
from customers.loyalty.grants import (
    Goodwill,
    GoodwillLimits,
    goodwill_decide,
    goodwill_grant,
    goodwill_granted_since,
    goodwill_limit,
    loyalty_adjust,
)
from customers.loyalty.rules import (
    POINTS_VALID_FOR,
    WINDOW,
    IdempotencyConflict,
    InsufficientPoints,
    Kind,
    LoyaltyRefused,
    account_balance,
    points_for,
    rolling_spend,
    tier_for_spend,
)
from customers.loyalty.sweep import SWEEP_BATCH, accounts_due_for_sweep, loyalty_account_sweep

__all__ = [
    "POINTS_VALID_FOR",
    "SWEEP_BATCH",
    "WINDOW",
    "Goodwill",
    "GoodwillLimits",
    "IdempotencyConflict",
    "InsufficientPoints",
    "Kind",
    "LoyaltyRefused",
    "Redemption",
    "account_balance",
    "accounts_due_for_sweep",
    "goodwill_decide",
    "goodwill_grant",
    "goodwill_granted_since",
    "goodwill_limit",
    "loyalty_account_get",
    "loyalty_account_sweep",
    "loyalty_adjust",
    "loyalty_orders_settle",
    "loyalty_redeem",
    "loyalty_redemption_cancel",
    "points_for",
    "rolling_spend",
    "tier_for_spend",
]
