"""The loyalty ledger: accrual once per order, idempotent redemption, expiry, tiers over the
rolling window, manual adjustments and goodwill."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accounts.models import Role
from customers import loyalty
from customers.models import (
    Customer,
    GoodwillRequest,
    LoyaltyTransaction,
    Order,
    TierChange,
)
from customers.orders import order_status_set
from customers.selectors import loyalty_priority, loyalty_summary
from tests import factories

Kind = LoyaltyTransaction.Kind
pytestmark = pytest.mark.django_db


def balance(customer: Customer) -> int:
    return loyalty_summary(customer.pk).balance


def test_a_first_completed_order_accrues_at_the_entry_tier(tiers):
    order = factories.make_order("A-1", total="200.00")

    lines = LoyaltyTransaction.objects.filter(order=order)
    # no tier yet: the entry tier's 3 % of 200
    assert [(line.kind, line.points, line.spend) for line in lines] == [(Kind.ACCRUAL, 6, 200)]
    assert loyalty_summary(order.customer_id).tier == tiers["Bronze"]


def test_the_tier_in_force_before_the_order_sets_its_percentage(tiers):
    first = factories.make_order("A-1", total="600.00")  # Bronze 3 %, then Silver
    second = factories.make_order("A-2", total="100.00")  # Silver: 5 %

    assert LoyaltyTransaction.objects.get(order=first).points == 18
    assert LoyaltyTransaction.objects.get(order=second).points == 5


def test_the_same_order_upserted_twice_accrues_once(tiers):
    factories.make_order("A-0", total="100.00")
    order = factories.make_order("A-1", total="300.00")
    again = factories.make_order("A-1", total="300.00")

    assert again.pk == order.pk
    assert Order.objects.filter(external_id="A-1").count() == 1
    assert LoyaltyTransaction.objects.filter(order=order, kind=Kind.ACCRUAL).count() == 1
    assert balance(order.customer) == 3 + 9


def test_completing_the_same_order_twice_accrues_once(tiers):
    factories.make_order("A-0", total="100.00")
    order = factories.make_order("A-1", total="300.00", status=Order.Status.PLACED)
    assert not LoyaltyTransaction.objects.filter(order=order).exists()

    later = timezone.now() + timedelta(minutes=1)
    first = order_status_set(external_id="A-1", status=Order.Status.COMPLETED, changed_at=later)
    retry = order_status_set(external_id="A-1", status=Order.Status.COMPLETED, changed_at=later)
    # even a redelivery with a newer timestamp does not accrue again
    newer = order_status_set(
        external_id="A-1", status=Order.Status.COMPLETED, changed_at=later + timedelta(seconds=5)
    )

    assert first.applied and not retry.applied and newer.applied
    assert LoyaltyTransaction.objects.filter(order=order, kind=Kind.ACCRUAL).count() == 1
    assert balance(order.customer) == 3 + 9


def test_an_older_status_arriving_late_is_ignored(tiers):
    factories.make_order("A-1", total="100.00", status=Order.Status.PLACED)
    now = timezone.now()
    order_status_set(
        external_id="A-1", status=Order.Status.COMPLETED, changed_at=now + timedelta(minutes=5)
    )
    stale = order_status_set(
        external_id="A-1", status=Order.Status.IN_DELIVERY, changed_at=now + timedelta(minutes=2)
    )

    assert not stale.applied
    assert Order.objects.get(external_id="A-1").status == Order.Status.COMPLETED


def test_a_refund_reverses_the_accrual_once_and_never_below_zero(tiers):
    factories.make_order("A-0", total="100.00")
    order = factories.make_order("A-1", total="1000.00")  # Bronze 3 % -> 30 points
    customer = order.customer
    loyalty.loyalty_redeem(customer=customer, points=20, idempotency_key="spend-20")
    later = timezone.now() + timedelta(minutes=1)

    order_status_set(external_id="A-1", status=Order.Status.REFUNDED, changed_at=later)
    order_status_set(
        external_id="A-1", status=Order.Status.REFUNDED, changed_at=later + timedelta(seconds=1)
    )

    reversal = LoyaltyTransaction.objects.get(order=order, kind=Kind.ACCRUAL_REVERSAL)
    assert reversal.points == -13  # what was left of 3 + 30; the 20 spent stay spent
    assert balance(customer) == 0
    # the refunded spend no longer counts towards the tier
    assert loyalty_summary(customer.pk).spend == 100


def test_the_same_redemption_key_twice_redeems_once(tiers):
    customer = factories.make_order("A-1", total="100").customer
    loyalty.loyalty_adjust(
        customer=customer,
        points=100,
        reason="migration",
        actor=factories.make_user(role=Role.ADMIN),
    )

    first = loyalty.loyalty_redeem(customer=customer, points=40, idempotency_key="chk-1")
    second = loyalty.loyalty_redeem(customer=customer, points=40, idempotency_key="chk-1")

    assert first.created and not second.created
    assert second.transaction.pk == first.transaction.pk
    assert balance(customer) == 3 + 60
    with pytest.raises(loyalty.IdempotencyConflict):
        loyalty.loyalty_redeem(customer=customer, points=41, idempotency_key="chk-1")


def test_a_redemption_cannot_overdraw(tiers):
    customer = factories.make_order("A-1", total="100").customer
    with pytest.raises(loyalty.InsufficientPoints):
        loyalty.loyalty_redeem(customer=customer, points=4, idempotency_key="k")  # 3 earned
    assert not LoyaltyTransaction.objects.filter(kind=Kind.REDEMPTION).exists()


def test_a_cancelled_redemption_gives_the_points_back_once(tiers, admin_user):
    customer = factories.make_order("A-1", total="100").customer
    loyalty.loyalty_adjust(customer=customer, points=50, reason="welcome", actor=admin_user)
    loyalty.loyalty_redeem(customer=customer, points=30, idempotency_key="chk-9")

    first = loyalty.loyalty_redemption_cancel(customer=customer, idempotency_key="chk-9")
    second = loyalty.loyalty_redemption_cancel(customer=customer, idempotency_key="chk-9")

    assert first.created and not second.created
    assert balance(customer) == 3 + 50
    with pytest.raises(loyalty.LoyaltyRefused):
        loyalty.loyalty_redemption_cancel(customer=customer, idempotency_key="never-used")


def test_points_expire_after_their_validity_and_the_sweep_is_idempotent(tiers, admin_user):
    customer = factories.make_order("A-1", total="100").customer
    loyalty.loyalty_adjust(customer=customer, points=100, reason="old", actor=admin_user)
    account_id = customer.loyalty.pk
    with time_machine.travel(timezone.now() + timedelta(days=200)):
        loyalty.loyalty_adjust(customer=customer, points=50, reason="newer", actor=admin_user)
        loyalty.loyalty_redeem(customer=customer, points=30, idempotency_key="k1")

    later = timezone.now() + loyalty.POINTS_VALID_FOR + timedelta(days=1)
    assert loyalty.accounts_due_for_sweep(later) == [account_id]
    expired = loyalty.loyalty_account_sweep(account_id=account_id, now=later)
    again = loyalty.loyalty_account_sweep(account_id=account_id, now=later)

    # 3 + 100 old points, 30 of them spent (oldest first): 73 expire; the 50 newer ones stay
    assert (expired, again) == (73, 0)
    assert balance(customer) == 50
    assert loyalty.accounts_due_for_sweep(later) == []
    assert LoyaltyTransaction.objects.filter(kind=Kind.EXPIRY).count() == 1


def test_the_expiry_task_sweeps_due_accounts(tiers, admin_user):
    from customers.tasks import loyalty_sweep

    customer = factories.make_order("A-1", total="100").customer
    loyalty.loyalty_adjust(customer=customer, points=10, reason="x", actor=admin_user)
    with time_machine.travel(timezone.now() + loyalty.POINTS_VALID_FOR + timedelta(days=1)):
        loyalty_sweep()
        loyalty_sweep()
        assert balance(customer) == 0
    assert LoyaltyTransaction.objects.filter(kind=Kind.EXPIRY).count() == 1


def test_the_tier_goes_up_and_down_over_the_rolling_window(tiers):
    start = timezone.now()
    with time_machine.travel(start):
        factories.make_order("A-1", total="400.00", status_changed_at=start.isoformat())
        customer = Customer.objects.get(external_id="crm-1")
        assert loyalty_summary(customer.pk).tier == tiers["Bronze"]
    with time_machine.travel(start + timedelta(days=100)):
        factories.make_order("A-2", total="200.00")
        assert loyalty_summary(customer.pk).tier == tiers["Silver"]  # 600 in 12 months
    # A year after the first order its 400 leave the window: 200 is Bronze again.
    with time_machine.travel(start + timedelta(days=366)):
        from customers.tasks import loyalty_sweep

        loyalty_sweep()
        assert loyalty_summary(customer.pk).tier == tiers["Bronze"]

    changes = [
        (c.from_tier and c.from_tier.name, c.to_tier and c.to_tier.name)
        for c in TierChange.objects.filter(account__customer=customer).order_by("at", "pk")
    ]
    assert changes == [(None, "Bronze"), ("Bronze", "Silver"), ("Silver", "Bronze")]


def test_loyalty_priority_follows_the_tier(tiers):
    customer = factories.make_order("A-1", total="100").customer
    assert loyalty_priority(customer.pk) is None  # Bronze: normal priority
    factories.make_order("A-2", total="2500")
    assert loyalty_priority(customer.pk) == 1  # Gold: high
    assert loyalty_priority(999_999) is None


def test_a_manual_adjustment_needs_the_capability_and_a_reason(tiers, operator, admin_user):
    customer = factories.make_order("A-1", total="100").customer
    with pytest.raises(PermissionDenied):
        loyalty.loyalty_adjust(customer=customer, points=10, reason="nice", actor=operator)
    with pytest.raises(ValidationError):
        loyalty.loyalty_adjust(customer=customer, points=10, reason=" ", actor=admin_user)

    line = loyalty.loyalty_adjust(customer=customer, points=10, reason="nice", actor=admin_user)

    assert (line.kind, line.actor, line.reason) == (Kind.ADJUSTMENT, admin_user, "nice")
    with pytest.raises(loyalty.InsufficientPoints):
        loyalty.loyalty_adjust(customer=customer, points=-14, reason="undo", actor=admin_user)


def test_goodwill_within_the_role_limit_is_granted_at_once(tiers, operator):
    customer = factories.make_order("A-1", total="100").customer
    # the built-in operator role may grant 200 points
    granted = loyalty.goodwill_grant(
        customer=customer, points=200, reason="late courier", actor=operator, conversation_id=7
    )

    assert not granted.pending
    line = granted.transaction
    assert (line.kind, line.points, line.actor, line.conversation_id) == (
        Kind.GOODWILL,
        200,
        operator,
        7,
    )
    assert balance(customer) == 3 + 200


def test_goodwill_above_the_limit_waits_for_an_admin(tiers, operator, admin_user, teammate):
    customer = factories.make_order("A-1", total="100").customer
    asked = loyalty.goodwill_grant(
        customer=customer, points=500, reason="cold pizza", actor=operator
    )
    assert asked.pending and balance(customer) == 3

    with pytest.raises(PermissionDenied):
        loyalty.goodwill_decide(request=asked.request, approve=True, actor=teammate)
    decided = loyalty.goodwill_decide(request=asked.request, approve=True, actor=admin_user)
    with pytest.raises(loyalty.LoyaltyRefused):
        loyalty.goodwill_decide(request=asked.request, approve=True, actor=admin_user)

    assert decided.status == GoodwillRequest.Status.APPROVED
    line = decided.transaction
    assert (line.points, line.actor, line.approved_by) == (500, operator, admin_user)
    assert balance(customer) == 3 + 500


def test_a_top_tier_customers_new_conversation_is_served_first(tiers, support_inbox):
    """Distribution asks the loyalty tier for a new conversation's priority."""
    from chats.models import Conversation
    from chats.selectors import queue_status

    regular = factories.make_conversation(inbox=support_inbox)
    gold = factories.make_order("G-1", total="2500").customer  # Gold: priority high
    vip = factories.make_conversation(inbox=support_inbox, customer=gold)

    assert (vip.priority, regular.priority) == (Conversation.Priority.HIGH, 0)
    assert queue_status(vip).position == 1 and queue_status(regular).position == 2
