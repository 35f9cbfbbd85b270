"""Ten checkouts redeem against one account at once, in real threads on PostgreSQL: the
balance never goes below zero and each idempotency key redeems once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections

from customers import loyalty
from customers.models import LoyaltyTransaction
from customers.selectors import loyalty_summary
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


def _run_at_once(n: int, work) -> list[object]:
    """Run `work(i)` in n threads released together; each thread has its own connection."""
    barrier = threading.Barrier(n)

    def one(i: int) -> object:
        try:
            barrier.wait(timeout=10)
            return work(i)
        except Exception as error:  # the outcome is what we assert on
            return error
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(one, range(n)))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
def test_ten_concurrent_redemptions_never_overdraw(admin_user):
    customer = factories.make_order("A-1", total="10").customer
    loyalty.loyalty_adjust(customer=customer, points=100, reason="stock", actor=admin_user)

    # ten checkouts of 30 points each: only three fit in 100
    outcomes = _run_at_once(
        10,
        lambda i: loyalty.loyalty_redeem(
            customer=customer, points=30, idempotency_key=f"checkout-{i}"
        ),
    )

    redeemed = [o for o in outcomes if isinstance(o, loyalty.Redemption)]
    refused = [o for o in outcomes if isinstance(o, loyalty.InsufficientPoints)]
    assert (len(redeemed), len(refused)) == (3, 7), outcomes
    assert loyalty_summary(customer.pk).balance == 10
    assert LoyaltyTransaction.objects.filter(kind="redemption").count() == 3


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
def test_the_same_key_sent_ten_times_at_once_redeems_once(admin_user):
    customer = factories.make_order("A-1", total="10").customer
    loyalty.loyalty_adjust(customer=customer, points=100, reason="stock", actor=admin_user)

    outcomes = _run_at_once(
        10,
        lambda i: loyalty.loyalty_redeem(customer=customer, points=30, idempotency_key="same"),
    )

    assert all(isinstance(o, loyalty.Redemption) for o in outcomes), outcomes
    assert sum(o.created for o in outcomes) == 1
    assert len({o.transaction.pk for o in outcomes}) == 1
    assert loyalty_summary(customer.pk).balance == 70


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
def test_the_same_order_completed_ten_times_at_once_accrues_once():
    factories.make_tiers()
    factories.make_order("A-0", total="100")  # Bronze from here on
    factories.make_order("A-1", total="1000", status="placed")
    from customers.orders import order_status_set

    outcomes = _run_at_once(10, lambda i: order_status_set(external_id="A-1", status="completed"))

    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert LoyaltyTransaction.objects.filter(order__external_id="A-1").count() == 1
    assert (
        loyalty_summary(
            LoyaltyTransaction.objects.get(order__external_id="A-1").account.customer_id
        ).balance
        == 33
    )
