from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TelephonyConfig(AppConfig):
    name = "telephony"
    verbose_name = _("Telephony")

    def ready(self) -> None:
        from django.core.signals import request_started

        from chats.contact_stats import register_contact_source
        from telephony.contact_stats import customer_calls
        from telephony.embedded import in_process_enabled

        # The side panel counts the customer's calls; chats does not import telephony.
        register_contact_source(customer_calls)
        if in_process_enabled():
            # The web server's event loop is only reachable from inside it: the first request
            # it serves starts the listener there (management commands serve none).
            request_started.connect(_start_listening, dispatch_uid="telephony-ami-in-process")


async def _start_listening(sender: Any, scope: dict[str, Any] | None = None, **kwargs: Any) -> None:
    """Run on the ASGI server's loop for every request: starts the in-process AMI listener
    once (`telephony/embedded.py`); a WSGI or test-client request carries no scope."""
    if scope is None:
        return
    from telephony.embedded import listeners_start_in_loop

    listeners_start_in_loop()
