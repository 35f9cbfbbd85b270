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
