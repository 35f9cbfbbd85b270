from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChatsConfig(AppConfig):
    name = "chats"
    verbose_name = _("Conversations")

    def ready(self) -> None:
        from accounts.services import operators_available
        from chats.metrics import register_queue_collector
        from chats.services.distribution import on_operators_available

        operators_available.connect(on_operators_available, dispatch_uid="chats.distribution")
        register_queue_collector()
        self._register_adapters()

    @staticmethod
    def _register_adapters() -> None:
        """Every channel's adapter, by inbox kind: the clients that fetch their replies
        themselves (widget, app, API) and Telegram."""
        from chats.adapters import register
        from chats.channels.client.delivery import PullAdapter
        from chats.channels.telegram.delivery import TelegramAdapter
        from chats.models import Inbox

        for kind in (Inbox.Kind.WIDGET, Inbox.Kind.MOBILE, Inbox.Kind.API):
            register(kind, PullAdapter())
        register(Inbox.Kind.TELEGRAM, TelegramAdapter())
