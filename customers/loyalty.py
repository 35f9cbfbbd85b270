"""Writes to the loyalty ledger (docs/customers.md, "Loyalty").

Every write locks the customer's `LoyaltyAccount` row first (`SELECT … FOR UPDATE`), then reads
the balance as the sum of the ledger and appends a line. Two writers on one account therefore
run one after the other and the second sees the first's line: a redemption can never overdraw,
whatever number of checkouts ask at once. The unique constraints of `LoyaltyTransaction`
(one accrual per order, one line per idempotency key, one cancellation per redemption) are the
backstop that makes retries harmless even outside the lock.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import DateTimeField, ExpressionWrapper, F, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.access import Capability, has_capability, profile_of
from accounts.models import OperatorProfile
from customers.models import (
    Customer,
    GoodwillRequest,
    LoyaltyAccount,
    LoyaltyTier,
    LoyaltyTransaction,
    Order,
    TierChange,
)
from smartdesk.api_errors import Refused

Kind = LoyaltyTransaction.Kind

# Tiers follow completed spend over this rolling window; credits expire after POINTS_VALID_FOR.
WINDOW = timedelta(days=getattr(settings, "LOYALTY_WINDOW_DAYS", 365))
POINTS_VALID_FOR = timedelta(days=getattr(settings, "LOYALTY_POINTS_VALID_DAYS", 365))
SWEEP_BATCH = 500
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class LoyaltyRefused(Refused):
    """A loyalty write that cannot happen in the account's state (API: 409)."""


class InsufficientPoints(LoyaltyRefused):
    pass


class IdempotencyConflict(LoyaltyRefused):
    pass


# --- reads used by the writes ---------------------------------------------------------------------


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


# --- accounts and their lock ----------------------------------------------------------------------


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


# --- orders: accrual and its reversal -------------------------------------------------------------


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


# --- the checkout: redeem and cancel --------------------------------------------------------------


@dataclass(frozen=True)
class Redemption:
    transaction: LoyaltyTransaction
    created: bool
    balance: int


def _require_key(key: str) -> str:
    key = (key or "").strip()
    if not key:
        raise ValidationError(_("An idempotency key is required."))
    if len(key) > 100:
        raise ValidationError(_("The idempotency key is too long (at most 100 characters)."))
    return key


@transaction.atomic
def loyalty_redeem(
    *, customer: Customer, points: int, idempotency_key: str, reason: str = "", actor: Any = None
) -> Redemption:
    """Write off `points` for a checkout. The same key again returns the first redemption
    (and refuses if it asked for a different amount). Refuses to take the balance below 0."""
    key = _require_key(idempotency_key)
    if points <= 0:
        raise ValidationError(_("Redeem a positive number of points."))
    account = _locked(customer.pk)
    existing = LoyaltyTransaction.objects.filter(account=account, idempotency_key=key).first()
    if existing is not None:
        if existing.kind != Kind.REDEMPTION or existing.points != -points:
            raise IdempotencyConflict(
                _("This idempotency key was already used for a different request.")
            )
        return Redemption(existing, False, account_balance(account.pk))
    balance = account_balance(account.pk)
    if balance < points:
        raise InsufficientPoints(
            _("Not enough points: the balance is %(balance)d, %(points)d asked.")
            % {"balance": balance, "points": points}
        )
    line = LoyaltyTransaction.objects.create(
        account=account,
        kind=Kind.REDEMPTION,
        points=-points,
        idempotency_key=key,
        effective_at=timezone.now(),
        reason=reason[:300],
        actor=actor if getattr(actor, "pk", None) else None,
    )
    return Redemption(line, True, balance - points)


@transaction.atomic
def loyalty_redemption_cancel(
    *, customer: Customer, idempotency_key: str, actor: Any = None
) -> Redemption:
    """Give back the points of the redemption made with this key (the checkout was abandoned).
    Cancelling twice gives back once."""
    key = _require_key(idempotency_key)
    account = _locked(customer.pk)
    redemption = LoyaltyTransaction.objects.filter(
        account=account, idempotency_key=key, kind=Kind.REDEMPTION
    ).first()
    if redemption is None:
        raise LoyaltyRefused(_("No redemption was made with this idempotency key."))
    existing = LoyaltyTransaction.objects.filter(
        kind=Kind.REDEMPTION_CANCEL, reference=redemption
    ).first()
    if existing is not None:
        return Redemption(existing, False, account_balance(account.pk))
    now = timezone.now()
    line = LoyaltyTransaction.objects.create(
        account=account,
        kind=Kind.REDEMPTION_CANCEL,
        points=-redemption.points,
        reference=redemption,
        effective_at=now,
        expires_at=now + POINTS_VALID_FOR,
        reason=_("Redemption %(key)s cancelled") % {"key": key},
        actor=actor if getattr(actor, "pk", None) else None,
    )
    return Redemption(line, True, account_balance(account.pk))


# --- people: manual adjustments and goodwill ------------------------------------------------------


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("Give a reason: it stays in the ledger."))
    return reason[:300]


@transaction.atomic
def loyalty_adjust(
    *, customer: Customer, points: int, reason: str, actor: Any
) -> LoyaltyTransaction:
    """A manual correction (either sign) by someone allowed to adjust loyalty; the ledger line
    names them and the reason. A negative one cannot take the balance below 0."""
    if not has_capability(actor, Capability.ADJUST_LOYALTY):
        raise PermissionDenied(_("Your role does not allow adjusting loyalty points."))
    reason = _reason(reason)
    if points == 0:
        raise ValidationError(_("An adjustment needs a number of points other than 0."))
    account = _locked(customer.pk)
    if points < 0 and account_balance(account.pk) + points < 0:
        raise InsufficientPoints(_("The adjustment would take the balance below 0."))
    now = timezone.now()
    return LoyaltyTransaction.objects.create(
        account=account,
        kind=Kind.ADJUSTMENT,
        points=points,
        effective_at=now,
        expires_at=now + POINTS_VALID_FOR if points > 0 else None,
        reason=reason,
        actor=actor,
    )


def goodwill_limit(user: Any) -> int | None:
    """Points the user may grant at once without approval (None: no limit — they approve
    themselves). What the card shows; `goodwill_grant` also applies the limit per period."""
    if user is None or not user.is_authenticated:
        return 0
    if user.is_superuser:
        return None
    profile = profile_of(user)
    return profile.role.goodwill_points_limit if profile is not None else 0


@dataclass(frozen=True)
class GoodwillLimits:
    """What one person may grant without approval: at once, and in total over a rolling
    period (None: no limit of that kind)."""

    per_grant: int | None
    per_period: int | None
    period: timedelta


_NOTHING = GoodwillLimits(per_grant=0, per_period=0, period=timedelta(days=1))


# The namespace of the per-person goodwill lock (`pg_advisory_xact_lock(namespace, user id)`).
_GOODWILL_LOCK = 0x60_0D_11  # "goodwill"


def _goodwill_limits_locked(actor: Any) -> GoodwillLimits:
    """The actor's limits, with a per-person lock held until the transaction ends (a
    PostgreSQL advisory lock keyed by the user id): one person's grants run one after the
    other, each counting the ones before it, however many requests arrive at once.

    An advisory lock, not the profile row: assignment locks a conversation and then the
    profile, while a grant writes into a conversation's thread; a row lock here could close a
    cycle. The lock is taken before any loyalty account, always in this order."""
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.is_active:
        return _NOTHING
    if actor.is_superuser:
        return GoodwillLimits(per_grant=None, per_period=None, period=timedelta(days=1))
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", [_GOODWILL_LOCK, actor.pk % 2**31]
            )
    # SQLite (the embedded default) runs one writing transaction at a time anyway.
    profile = OperatorProfile.objects.select_related("role").filter(user_id=actor.pk).first()
    if profile is None:
        return _NOTHING
    role = profile.role
    return GoodwillLimits(
        per_grant=role.goodwill_points_limit,
        per_period=role.goodwill_period_points_limit,
        period=timedelta(days=role.goodwill_period_days),
    )


def goodwill_granted_since(*, actor_id: int, since: datetime) -> int:
    """Goodwill points `actor_id` granted on their own authority (not approved by someone
    else) since `since`: what their limit per period counts."""
    return LoyaltyTransaction.objects.filter(
        kind=Kind.GOODWILL, actor_id=actor_id, approved_by__isnull=True, effective_at__gte=since
    ).aggregate(total=Coalesce(Sum("points"), 0))["total"]


@dataclass(frozen=True)
class Goodwill:
    transaction: LoyaltyTransaction | None
    request: GoodwillRequest | None

    @property
    def pending(self) -> bool:
        return self.transaction is None


@transaction.atomic
def goodwill_grant(
    *,
    customer: Customer,
    points: int,
    reason: str,
    actor: Any,
    conversation_id: int | None = None,
) -> Goodwill:
    """Goodwill points from a conversation: granted at once within the actor's role limits
    (per grant, and in total over the role's rolling period), otherwise a request an admin with
    the loyalty capability approves. Safe under concurrent grants by one person: a lock per
    person is held while the period's grants are summed and the new one written."""
    reason = _reason(reason)
    if points <= 0:
        raise ValidationError(_("Grant a positive number of points."))
    limits = _goodwill_limits_locked(actor)  # first: the lock order is person, then account
    account = _locked(customer.pk)
    now = timezone.now()
    over = limits.per_grant is not None and points > limits.per_grant
    if not over and limits.per_period is not None:
        granted = goodwill_granted_since(actor_id=actor.pk, since=now - limits.period)
        over = granted + points > limits.per_period
    if over:
        request = GoodwillRequest.objects.create(
            account=account,
            points=points,
            reason=reason,
            conversation_id=conversation_id,
            requested_by=actor,
        )
        return Goodwill(None, request)
    line = LoyaltyTransaction.objects.create(
        account=account,
        kind=Kind.GOODWILL,
        points=points,
        effective_at=now,
        expires_at=now + POINTS_VALID_FOR,
        reason=reason,
        actor=actor,
        conversation_id=conversation_id,
    )
    return Goodwill(line, None)


@transaction.atomic
def goodwill_decide(*, request: GoodwillRequest, approve: bool, actor: Any) -> GoodwillRequest:
    """Approve (the points go to the ledger, naming requester and approver) or reject a
    pending request. Deciding twice is refused; two admins at once: one wins."""
    if not has_capability(actor, Capability.ADJUST_LOYALTY):
        raise PermissionDenied(_("Your role does not allow approving goodwill."))
    now = timezone.now()
    status = GoodwillRequest.Status.APPROVED if approve else GoodwillRequest.Status.REJECTED
    claimed = GoodwillRequest.objects.filter(
        pk=request.pk, status=GoodwillRequest.Status.PENDING
    ).update(status=status, decided_by=actor, decided_at=now)
    if claimed != 1:
        raise LoyaltyRefused(_("This request has already been decided."))
    request.refresh_from_db()
    if approve:
        account = LoyaltyAccount.objects.select_for_update().get(pk=request.account_id)
        line = LoyaltyTransaction.objects.create(
            account=account,
            kind=Kind.GOODWILL,
            points=request.points,
            effective_at=now,
            expires_at=now + POINTS_VALID_FOR,
            reason=request.reason,
            actor=request.requested_by,
            approved_by=actor,
            conversation_id=request.conversation_id,
        )
        request.transaction = line
        request.save(update_fields=["transaction"])
    return request


# --- the periodic sweep: expiry and tiers sliding out of the window -------------------------------


def _expire(account: LoyaltyAccount, now: datetime) -> int:
    totals = LoyaltyTransaction.objects.filter(account=account).aggregate(
        due=Coalesce(Sum("points", filter=Q(points__gt=0, expires_at__lte=now)), 0),
        spent=Coalesce(Sum("points", filter=Q(points__lt=0)), 0),
    )
    # Debits consume the oldest credits first, and credits expire in the order they were
    # earned: whatever of the expired credits the debits have not consumed is left to expire.
    to_expire = max(0, totals["due"] + totals["spent"])
    if to_expire:
        LoyaltyTransaction.objects.create(
            account=account,
            kind=Kind.EXPIRY,
            points=-to_expire,
            effective_at=now,
            reason=_("Points expired"),
        )
    return to_expire


@transaction.atomic
def loyalty_account_sweep(*, account_id: int, now: datetime | None = None) -> int:
    """Write off the credits that expired by `now` and were not spent (oldest spent first),
    and re-derive the tier (spend leaves the window as days pass). Safe to run any number of
    times: what was written off counts as spent. Returns the points written off."""
    now = now or timezone.now()
    account = (
        LoyaltyAccount.objects.select_for_update(of=("self",))
        .select_related("tier")
        .filter(pk=account_id)
        .first()
    )
    if account is None:
        return 0
    expired = _expire(account, now)
    _refresh_tiers([account], now)
    account.swept_until = now
    account.save(update_fields=["swept_until"])
    return expired


def accounts_due_for_sweep(now: datetime, limit: int = SWEEP_BATCH) -> list[int]:
    """Accounts with a credit that expired, or spend that left the window, since their
    last sweep."""
    since = Coalesce(F("account__swept_until"), Value(_EPOCH), output_field=DateTimeField())
    expiring = Q(points__gt=0, expires_at__lte=now, expires_at__gt=since)
    leaving = ~Q(spend=0) & Q(
        effective_at__lte=now - WINDOW,
        effective_at__gt=ExpressionWrapper(since - WINDOW, output_field=DateTimeField()),
    )
    return list(
        LoyaltyTransaction.objects.filter(expiring | leaving)
        .values_list("account_id", flat=True)
        .distinct()
        .order_by("account_id")[:limit]
    )
