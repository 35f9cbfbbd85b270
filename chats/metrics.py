"""The waiting-queue gauges, read from the database at each scrape.

Registered from `ChatsConfig.ready` through `smartdesk.core.metrics.register_scrape_collector`, so
that in multiprocess mode every scrape adds them beside the files of every process.
"""

from __future__ import annotations

from typing import Any

from smartdesk.core.metrics import register_scrape_collector


class QueueCollector:
    """Queue length and oldest waiting age per team, read from the database at each scrape
    (one grouped query), so every process reports the same truth."""

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Any:
        from django.db.models import Count, Min
        from django.utils import timezone
        from prometheus_client.core import GaugeMetricFamily

        from chats.models import Conversation
        from chats.services.distribution import waiting_q

        length = GaugeMetricFamily(
            "smartdesk_queue_length",
            "Conversations waiting for an operator, by team.",
            labels=["team"],
        )
        oldest = GaugeMetricFamily(
            "smartdesk_queue_oldest_wait_seconds",
            "How long the longest-queued conversation has waited, by team.",
            labels=["team"],
        )
        now = timezone.now()
        rows = (
            Conversation.objects.filter(waiting_q())
            .values("team__name")
            .annotate(n=Count("pk"), first=Min("queued_at"))
        )
        for row in rows:
            team = row["team__name"] or ""
            length.add_metric([team], row["n"])
            first = row["first"]
            oldest.add_metric([team], (now - first).total_seconds() if first else 0.0)
        yield length
        yield oldest


_queue_collector: QueueCollector | None = None


def register_queue_collector() -> None:
    """Register the queue gauges once per process (a second call is a no-op)."""
    global _queue_collector
    if _queue_collector is None:
        _queue_collector = QueueCollector()
        register_scrape_collector(_queue_collector)
