"""Celery adapters for the customers services: ids in, idempotent, bounded batches."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from customers import loyalty, offers

SWEEP_MAX_BATCHES = 200


@shared_task(acks_late=True)
def loyalty_sweep() -> int:
    """Expire points and move tiers whose spend left the rolling window. Each account is
    marked when swept, so a second run (or a second worker) finds nothing left to do."""
    now = timezone.now()
    swept = 0
    for _batch in range(SWEEP_MAX_BATCHES):
        due = loyalty.accounts_due_for_sweep(now)
        if not due:
            break
        for account_id in due:
            loyalty.loyalty_account_sweep(account_id=account_id, now=now)
        swept += len(due)
    return swept


@shared_task(acks_late=True)
def rebuild_item_associations() -> int:
    """Recount "often bought together" over all orders."""
    return offers.associations_rebuild()
