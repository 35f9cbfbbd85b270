"""The Celery app. The beat schedule lives here, in code; the embedded ticker reads it too."""

from __future__ import annotations

import os
from datetime import timedelta

from celery import Celery

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
    "prune-live-events": {
        "task": "chats.tasks.prune_live_events",
        "schedule": timedelta(hours=1),
    },
}
