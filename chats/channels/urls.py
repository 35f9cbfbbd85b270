"""Channel endpoints: the Telegram webhook, the widget script, and the client API (mounted
under /api/v1/client/ by smartdesk.urls)."""

from __future__ import annotations

from django.urls import path

from chats.channels.client import api as client_api
from chats.channels.downloads import attachment_download
from chats.channels.telegram.views import telegram_webhook
from chats.channels.widget import widget_demo, widget_script

urlpatterns = [
    path(
        "integrations/telegram/<int:inbox_id>/webhook",
        telegram_webhook,
        name="telegram-webhook",
    ),
    path("widget/<str:key>.js", widget_script, name="widget-script"),
    path("widget/<str:key>/demo/", widget_demo, name="widget-demo"),
    path(
        "attachments/<int:message_id>/<int:index>/",
        attachment_download,
        name="attachment-download",
    ),
]

client_api_urls = [
    path("<str:key>/session/", client_api.SessionView.as_view(), name="client-session"),
    path("<str:key>/identify/", client_api.IdentifyView.as_view(), name="client-identify"),
    path("<str:key>/messages/", client_api.MessagesView.as_view(), name="client-messages"),
]
