"""Points people give: manual adjustments, and goodwill within a role's limits (or a request
an admin approves)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.access import Capability, has_capability, profile_of
from accounts.models import OperatorProfile
from customers.loyalty.accounts import _locked
from customers.loyalty.rules import (
    POINTS_VALID_FOR,
    InsufficientPoints,
    Kind,
    LoyaltyRefused,
    account_balance,
)
from customers.models import Customer, GoodwillRequest, LoyaltyAccount, LoyaltyTransaction
from smartdesk.core.updates import model_update


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
        model_update(request, transaction=line)
    return request
