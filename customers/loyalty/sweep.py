"""The periodic sweep: credits that expired unspent are written off, and tiers follow spend
sliding out of the rolling window."""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import transaction
from django.db.models import DateTimeField, ExpressionWrapper, F, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.loyalty.accounts import _refresh_tiers
from customers.loyalty.rules import WINDOW, Kind
from customers.models import LoyaltyAccount, LoyaltyTransaction
from smartdesk.core.updates import model_update

SWEEP_BATCH = 500
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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
    model_update(account, swept_until=now)
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
