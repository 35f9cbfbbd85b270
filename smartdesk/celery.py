"""The Celery app. The beat schedule lives here, in code; the embedded ticker reads it too."""

from __future__ import annotations

import os
from datetime import timedelta

from celery import Celery
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smartdesk.settings")

app = Celery("smartdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    "clear-expired-sessions": {
        "task": "smartdesk.tasks.clear_expired_sessions",
        "schedule": timedelta(hours=1),
    },
    # Snoozed conversations already read as open when due; this materialises the change,
    # writes the audit event and rings the assignee.
    "wake-due-conversations": {
        "task": "chats.tasks.wake_due_conversations",
        "schedule": timedelta(seconds=30),
    },
    # Distribution's safety net: presence timeouts, reassigning the unanswered conversations
    # of away operators, load reconciliation and a pass over every team queue.
    "distribution-sweep": {
        "task": "chats.tasks.distribution_sweep",
        "schedule": timedelta(seconds=30),
    },
    # Channels (docs/channels.md): Telegram updates stored but never processed are queued
    # again; the delivery outbox queues again every reply whose task was lost (a worker
    # killed, a broker restarted empty) or whose claim ran out, within a minute.
    "sweep-telegram-updates": {
        "task": "chats.channels.tasks.sweep_telegram_updates",
        "schedule": timedelta(minutes=1),
    },
    "sweep-stuck-deliveries": {
        "task": "chats.channels.tasks.sweep_stuck_deliveries",
        "schedule": timedelta(seconds=settings.DELIVERY_SWEEP_SECONDS),
    },
    "prune-live-events": {
        "task": "chats.tasks.prune_live_events",
        "schedule": timedelta(hours=1),
    },
    # Loyalty: expire points and move tiers as spend leaves the 12-month window (idempotent).
    "loyalty-sweep": {
        "task": "customers.tasks.loyalty_sweep",
        "schedule": timedelta(hours=1),
    },
    # Telephony: release operators whose wrap-up countdown the broker lost; close calls whose
    # Hangup never arrived (listener down). Both idempotent.
    "telephony-calls-sweep": {
        "task": "telephony.tasks.calls_sweep",
        "schedule": timedelta(seconds=30),
    },
    # Offers: recount "often bought together" over all orders.
    "rebuild-item-associations": {
        "task": "customers.tasks.rebuild_item_associations",
        "schedule": timedelta(hours=24),
    },
    # Statistics: a minute of operator presence, then the hourly roll-ups brought up to date
    # (incremental, idempotent, one run at a time). docs/kpis.md
    "analytics-rollup": {
        "task": "analytics.tasks.rollup_tick",
        "schedule": timedelta(seconds=60),
    },
}
