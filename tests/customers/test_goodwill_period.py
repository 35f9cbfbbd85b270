"""Goodwill limits per person and rolling period.

The limit per grant alone let 20 grants of 200 points through without approval. The role also
caps what one person grants on their own authority over a rolling period; grants beyond it
become requests an admin approves, whatever number of them arrive at once.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from accounts.models import Role
from chats.services.loyalty import conversation_goodwill_grant
from customers import loyalty
from customers.models import GoodwillRequest, LoyaltyTransaction
from tests import factories

PER_GRANT = 200
PER_PERIOD = 1000


def _limit_operators(days: int = 7) -> None:
    Role.objects.filter(slug=Role.OPERATOR).update(
        goodwill_points_limit=PER_GRANT,
        goodwill_period_points_limit=PER_PERIOD,
        goodwill_period_days=days,
    )


def _granted(actor) -> int:
    return (
        LoyaltyTransaction.objects.filter(kind="goodwill", actor=actor).aggregate(
            total=Sum("points")
        )["total"]
        or 0
    )


@pytest.mark.django_db(transaction=True)
def test_twenty_parallel_grants_over_the_period_limit_leave_the_excess_pending(
    operator, support_inbox
) -> None:
    _limit_operators()
    # Four customers: the limit is the person's, not the account's.
    conversations = [factories.make_conversation(inbox=support_inbox) for _ in range(4)]
    attempts = 20
    start = threading.Barrier(attempts)
    outcomes: list[bool] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def grant(n: int) -> None:
        try:
            start.wait(timeout=30)
            outcome = conversation_goodwill_grant(
                conversation=conversations[n % 4],
                points=PER_GRANT,
                reason=f"Sorry #{n}",
                actor=operator,
            )
            with lock:
                outcomes.append(outcome.pending)
        except BaseException as error:  # reported below, in the test's thread
            with lock:
                errors.append(error)
        finally:
            connection.close()  # each thread had its own connection

    threads = [threading.Thread(target=grant, args=(n,)) for n in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not errors, errors
    assert not any(t.is_alive() for t in threads)
    assert len(outcomes) == attempts
    assert _granted(operator) == PER_PERIOD
    assert outcomes.count(False) == PER_PERIOD // PER_GRANT  # 5 granted at once
    pending = GoodwillRequest.objects.filter(status=GoodwillRequest.Status.PENDING)
    assert pending.count() == attempts - PER_PERIOD // PER_GRANT  # 15 wait for an admin
    assert {r.requested_by_id for r in pending} == {operator.pk}


@pytest.mark.django_db
def test_the_period_rolls_and_approved_grants_do_not_count(
    operator, admin_user, support_inbox
) -> None:
    _limit_operators(days=7)
    customer = factories.make_conversation(inbox=support_inbox).customer

    def grant(points: int) -> loyalty.Goodwill:
        return loyalty.goodwill_grant(customer=customer, points=points, reason="x", actor=operator)

    for _ in range(5):
        assert not grant(PER_GRANT).pending
    over = grant(1)
    assert over.pending  # 1,001 in the period

    # An admin approves it: approved points are not the operator's own, they do not count.
    loyalty.goodwill_decide(request=over.request, approve=True, actor=admin_user)
    assert grant(1).pending

    # Eight days later the first grants have left the period.
    LoyaltyTransaction.objects.filter(kind="goodwill", approved_by__isnull=True).update(
        effective_at=timezone.now() - timedelta(days=8)
    )
    assert not grant(PER_GRANT).pending


@pytest.mark.django_db
def test_an_empty_period_limit_keeps_the_limit_per_grant_only(operator, support_inbox) -> None:
    Role.objects.filter(slug=Role.OPERATOR).update(
        goodwill_points_limit=PER_GRANT, goodwill_period_points_limit=None
    )
    customer = factories.make_conversation(inbox=support_inbox).customer

    outcomes = [
        loyalty.goodwill_grant(customer=customer, points=PER_GRANT, reason="x", actor=operator)
        for _ in range(8)
    ]

    assert not any(o.pending for o in outcomes)
    assert loyalty.goodwill_grant(
        customer=customer, points=PER_GRANT + 1, reason="x", actor=operator
    ).pending
