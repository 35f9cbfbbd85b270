"""The checkout: redeem points under an idempotency key, and cancel that redemption."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.loyalty.accounts import _locked
from customers.loyalty.rules import (
    POINTS_VALID_FOR,
    IdempotencyConflict,
    InsufficientPoints,
    Kind,
    LoyaltyRefused,
    account_balance,
)
from customers.models import Customer, LoyaltyTransaction


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
