from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = _("Statistics")

    def ready(self) -> None:
        # Cross-app reactions come in through signals and registries: chats never imports
        # analytics.
        from analytics import csat
        from analytics.ai import handover
        from analytics.contact_stats import customer_csat
        from chats.channels.telegram.ingest import telegram_callback
        from chats.contact_stats import register_contact_source
        from chats.signals import conversation_closed

        conversation_closed.connect(csat.on_conversation_closed, dispatch_uid="analytics-csat")
        # The hand-over summary, stored for the record on close.
        conversation_closed.connect(handover.on_conversation_closed, dispatch_uid="ai-summary")
        telegram_callback.connect(csat.on_telegram_callback, dispatch_uid="analytics-csat-tg")
        # The side panel shows the customer's average CSAT.
        register_contact_source(customer_csat)
