from __future__ import annotations

from django.urls import path

from accounts.api import MeView, PresenceView

urlpatterns = [
    path("me/", MeView.as_view(), name="api-me"),
    path("me/presence/", PresenceView.as_view(), name="api-me-presence"),
]
