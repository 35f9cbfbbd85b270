"""REST API routes of the customers app (mounted under /api/v1/)."""

from __future__ import annotations

from django.urls import path

from customers import api

urlpatterns = [
    # the back office (client token)
    path(
        "backoffice/customers/<str:external_id>/",
        api.CustomerUpsertView.as_view(),
        name="api-backoffice-customer",
    ),
    path("backoffice/orders/bulk/", api.BulkOrdersView.as_view(), name="api-backoffice-bulk"),
    path(
        "backoffice/orders/<str:external_id>/",
        api.OrderUpsertView.as_view(),
        name="api-backoffice-order",
    ),
    path(
        "backoffice/webhooks/<str:key>/order-status/",
        api.OrderStatusWebhookView.as_view(),
        name="api-backoffice-order-status",
    ),
    path(
        "backoffice/customers/<str:external_id>/loyalty/",
        api.BalanceView.as_view(),
        name="api-loyalty-balance",
    ),
    path(
        "backoffice/customers/<str:external_id>/loyalty/redeem/",
        api.RedeemView.as_view(),
        name="api-loyalty-redeem",
    ),
    path(
        "backoffice/customers/<str:external_id>/loyalty/cancel/",
        api.CancelRedemptionView.as_view(),
        name="api-loyalty-cancel",
    ),
    # people: `customers/<pk>/loyalty/adjust/` and `loyalty/goodwill/<pk>/decision/` are routed
    # in chats.api_urls (they go through the conversation gate).
]
