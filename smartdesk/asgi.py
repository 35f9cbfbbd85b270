"""ASGI entry point: HTTP through Django, WebSocket through Channels."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smartdesk.settings")

# Django must be set up before anything imports models (the consumers do).
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402
from django.urls import re_path  # noqa: E402

from chats.channels.routing import client_websocket_urlpatterns  # noqa: E402
from smartdesk.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter(
            [
                # The widget's socket comes from customers' sites: its consumer checks the
                # inbox's own origin allow-list instead of ALLOWED_HOSTS.
                *client_websocket_urlpatterns,
                re_path(
                    r"",
                    AllowedHostsOriginValidator(
                        AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
                    ),
                ),
            ]
        ),
    }
)

if settings.TICKER_ENABLED:
    from smartdesk.celery import app as celery_app
    from smartdesk.core.ticker import start_in_background

    start_in_background(celery_app)
