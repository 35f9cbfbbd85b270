"""The loyalty rules every write relies on: the rolling windows, the refusals a write can
meet, and the reads of an account (balance, spend, tier, points for a total)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from customers.models import LoyaltyTier, LoyaltyTransaction
from smartdesk.core.api_errors import Refused

Kind = LoyaltyTransaction.Kind

# Tiers follow completed spend over this rolling window; credits expire after POINTS_VALID_FOR.
WINDOW = timedelta(days=getattr(settings, "LOYALTY_WINDOW_DAYS", 365))
POINTS_VALID_FOR = timedelta(days=getattr(settings, "LOYALTY_POINTS_VALID_DAYS", 365))


class LoyaltyRefused(Refused):
    """A loyalty write that cannot happen in the account's state (API: 409)."""


class InsufficientPoints(LoyaltyRefused):
    pass


class IdempotencyConflict(LoyaltyRefused):
    pass


def account_balance(account_id: int) -> int:
    return LoyaltyTransaction.objects.filter(account_id=account_id).aggregate(
        total=Coalesce(Sum("points"), 0)
    )["total"]


def rolling_spend(account_id: int, now: datetime | None = None) -> Decimal:
    now = now or timezone.now()
    return LoyaltyTransaction.objects.filter(
        account_id=account_id, effective_at__gt=now - WINDOW, effective_at__lte=now
    ).aggregate(total=Coalesce(Sum("spend"), Value(Decimal("0"))))["total"]


def tier_for_spend(
    spend: Decimal, tiers: Iterable[LoyaltyTier] | None = None
) -> LoyaltyTier | None:
    """The highest tier whose threshold the spend reaches (None below the first)."""
    found = None
    for tier in tiers if tiers is not None else LoyaltyTier.objects.order_by("threshold"):
        if tier.threshold <= spend:
            found = tier
    return found


def points_for(total: Decimal, tier: LoyaltyTier | None) -> int:
    percent = tier.accrual_percent if tier is not None else Decimal("0")
    return math.floor(total * percent / 100)
