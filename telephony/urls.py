"""Operator-facing telephony routes (under /telephony/)."""

from __future__ import annotations

from django.urls import path

from telephony import views

app_name = "telephony"

urlpatterns = [
    path("calls/<int:pk>/card/", views.call_card, name="call-card"),
    path("calls/<int:pk>/customer/", views.call_customer, name="call-customer"),
    path("calls/<int:pk>/note/", views.call_note, name="call-note"),
    path("calls/<int:pk>/follow-up/", views.call_followup, name="call-followup"),
    path("dial/", views.call_dial, name="dial"),
]
