"""Orders and the ledger: a completed order accrues once, a cancelled or refunded one that
had accrued is reversed once."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.loyalty.accounts import _locked_many, _refresh_tiers
from customers.loyalty.rules import (
    POINTS_VALID_FOR,
    Kind,
    account_balance,
    points_for,
    tier_for_spend,
)
from customers.models import LoyaltyTransaction, Order


@transaction.atomic
def loyalty_orders_settle(*, orders: Iterable[Order], now: datetime | None = None) -> int:
    """Bring the ledger in line with the orders' statuses: a completed order accrues once, a
    cancelled or refunded one that had accrued is reversed once. Returns the lines written.

    Meant to run inside the transaction that changed the orders (it locks their accounts).
    """
    now = now or timezone.now()
    done = Order.Status.COMPLETED
    undone = (Order.Status.CANCELLED, Order.Status.REFUNDED)
    orders = [o for o in orders if o.status == done or o.status in undone]
    if not orders:
        return 0
    accounts = _locked_many(o.customer_id for o in orders)
    # A customer without a tier yet earns at the entry tier's rate (threshold 0, if any).
    entry = tier_for_spend(Decimal("0"))
    written = {
        (order_id, kind): points
        for order_id, kind, points in LoyaltyTransaction.objects.filter(
            order__in=orders, kind__in=[Kind.ACCRUAL, Kind.ACCRUAL_REVERSAL]
        ).values_list("order_id", "kind", "points")
    }
    lines: list[LoyaltyTransaction] = []
    reversed_accounts: dict[int, int] = {}
    for order in orders:
        account = accounts[order.customer_id]
        accrued = (order.pk, Kind.ACCRUAL) in written
        if order.status == done and not accrued:
            when = order.status_changed_at or now
            lines.append(
                LoyaltyTransaction(
                    account=account,
                    kind=Kind.ACCRUAL,
                    points=points_for(order.total, account.tier or entry),
                    spend=order.total,
                    order=order,
                    effective_at=when,
                    expires_at=when + POINTS_VALID_FOR,
                    reason=_("Order %(id)s") % {"id": order.external_id},
                )
            )
        elif (
            order.status in undone and accrued and (order.pk, Kind.ACCRUAL_REVERSAL) not in written
        ):
            # Take back what was earned, but never more than is left: spent points stay spent.
            if account.pk not in reversed_accounts:
                reversed_accounts[account.pk] = account_balance(account.pk)
            available = max(reversed_accounts[account.pk], 0)
            take = min(written[(order.pk, Kind.ACCRUAL)], available)
            reversed_accounts[account.pk] -= take
            lines.append(
                LoyaltyTransaction(
                    account=account,
                    kind=Kind.ACCRUAL_REVERSAL,
                    points=-take,
                    spend=-order.total,
                    order=order,
                    effective_at=now,
                    reason=_("Order %(id)s %(status)s")
                    % {"id": order.external_id, "status": order.get_status_display()},
                )
            )
    # ignore_conflicts: the unique (account, kind, order) keeps a line written by someone
    # else outside our lock (it cannot happen through these services, but a retry may).
    LoyaltyTransaction.objects.bulk_create(lines, ignore_conflicts=True)
    _refresh_tiers({line.account_id: line.account for line in lines}.values(), now)
    return len(lines)
