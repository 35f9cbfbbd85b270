"""The dialplan's routing endpoint, under /api/v1/telephony/."""

from __future__ import annotations

from django.urls import path

from telephony import views

urlpatterns = [
    path("telephony/route", views.route, name="telephony-route"),
]
