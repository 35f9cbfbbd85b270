from __future__ import annotations

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts import views as account_views
from chats.channels.urls import client_api_urls
from chats.views import card as card_views
from smartdesk.core import health, metrics

api_v1 = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The Swagger UI with its start-up script as a file of its own (no inline script under the
    # Content-Security-Policy); its page keeps one inline stylesheet.
    path(
        "docs/",
        csp_update({"style-src": [UNSAFE_INLINE]})(
            SpectacularSwaggerSplitView.as_view(url_name="api-schema")
        ),
        name="api-docs",
    ),
    path("", include("accounts.api_urls")),
    path("", include("chats.api_urls")),
    path("", include("customers.api_urls")),
    path("", include("telephony.api_urls")),  # the dialplan's routing (docs/telephony.md)
    path("client/", include(client_api_urls)),  # widget and mobile app (docs/channels.md)
    path("client/", include("analytics.client_api")),  # CSAT surveys in the widget / app
    path("", include("analytics.api_urls")),  # /api/v1/reports/… (docs/kpis.md)
]

# A URL under /api/ that matches no route answers JSON, like the API's own 404s.
handler404 = "smartdesk.core.openapi.not_found"

urlpatterns = [
    path("", account_views.home, name="home"),
    path("accounts/", include("accounts.urls")),
    path("", include("chats.urls")),
    path("", include("chats.channels.urls")),  # Telegram webhook, widget script
    # The customer card's actions inside a conversation.
    path(
        "inbox/c/<int:pk>/goodwill/",
        card_views.conversation_goodwill,
        name="conversation-goodwill",
    ),
    path(
        "inbox/c/<int:pk>/allergy-check/",
        card_views.conversation_allergy_check,
        name="conversation-allergy-check",
    ),
    path("telephony/", include("telephony.urls")),  # call card, click-to-call
    path("", include("analytics.urls")),  # statistics dashboard and wallboard
    path("", include("analytics.ai.urls")),  # classification correction
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("i18n/", include("django.conf.urls.i18n")),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
]
