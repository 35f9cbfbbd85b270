"""Loyalty accounts and their row lock: one account or many (in id order), and the tier
re-derived from each locked account's rolling spend."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from django.db.models import Sum

from customers.loyalty.rules import WINDOW, tier_for_spend
from customers.models import LoyaltyAccount, LoyaltyTier, LoyaltyTransaction, TierChange


def loyalty_account_get(*, customer_id: int) -> LoyaltyAccount:
    """The customer's account, created on first use (a concurrent creator wins, we re-read)."""
    return LoyaltyAccount.objects.get_or_create(customer_id=customer_id)[0]


def _locked(customer_id: int) -> LoyaltyAccount:
    account = loyalty_account_get(customer_id=customer_id)
    return (
        LoyaltyAccount.objects.select_for_update(of=("self",))
        .select_related("tier")
        .get(pk=account.pk)
    )


def _locked_many(customer_ids: Iterable[int]) -> dict[int, LoyaltyAccount]:
    """Lock many accounts in one statement, in id order (no deadlock between two batches)."""
    ids = sorted(set(customer_ids))
    if not ids:
        return {}
    existing = set(
        LoyaltyAccount.objects.filter(customer_id__in=ids).values_list("customer_id", flat=True)
    )
    missing = [LoyaltyAccount(customer_id=c) for c in ids if c not in existing]
    if missing:
        LoyaltyAccount.objects.bulk_create(missing, ignore_conflicts=True)
    accounts = (
        LoyaltyAccount.objects.select_for_update(of=("self",))
        .select_related("tier")
        .filter(customer_id__in=ids)
        .order_by("pk")
    )
    return {a.customer_id: a for a in accounts}


def _refresh_tiers(accounts: Iterable[LoyaltyAccount], now: datetime) -> list[TierChange]:
    """Derive each (locked) account's tier from its rolling spend; record every change."""
    accounts = list(accounts)
    if not accounts:
        return []
    tiers = list(LoyaltyTier.objects.order_by("threshold"))
    spend = dict(
        LoyaltyTransaction.objects.filter(
            account__in=accounts, effective_at__gt=now - WINDOW, effective_at__lte=now
        )
        .values("account_id")
        .annotate(total=Sum("spend"))
        .values_list("account_id", "total")
    )
    changes = []
    moved: dict[int | None, list[int]] = {}  # new tier -> accounts: one UPDATE per tier
    for account in accounts:
        total = spend.get(account.pk) or Decimal("0")
        tier = tier_for_spend(total, tiers)
        if (tier.pk if tier else None) == account.tier_id:
            continue
        changes.append(
            TierChange(account=account, from_tier_id=account.tier_id, to_tier=tier, spend=total)
        )
        account.tier = tier
        account.tier_since = now
        moved.setdefault(tier.pk if tier else None, []).append(account.pk)
    for tier_id, account_ids in moved.items():
        LoyaltyAccount.objects.filter(pk__in=account_ids).update(tier_id=tier_id, tier_since=now)
    if changes:
        TierChange.objects.bulk_create(changes)
    return changes
