"""The customers REST API (mounted under /api/v1/).

- `backoffice/…`: the back office (CRM, shop, checkout) with a client token
  (`Authorization: Bearer <key>.<secret>`, see `customers.auth`): upsert customers and orders,
  bulk orders, the order-status webhook (HMAC-signed), and the checkout's loyalty calls.
- `customers/…/loyalty/adjust/`, `loyalty/goodwill/…/decision/` (people signed in) are served by
  `chats.api.customers`, through the conversation gate's write form, with routes in
  `chats.api_urls`.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from customers import loyalty, orders
from customers.auth import BackOfficeAuthentication, IsBackOfficeClient, signature_valid
from customers.bulk import bulk_upsert
from customers.models import Customer, IntegrationClient
from customers.selectors import customer_by_external_id, loyalty_summary
from customers.serializers import (
    BalanceSerializer,
    BulkOrdersSerializer,
    BulkResultSerializer,
    CancelRedemptionSerializer,
    CustomerUpsertSerializer,
    OrderStatusWebhookSerializer,
    OrderUpsertSerializer,
    RedeemSerializer,
    RedemptionResultSerializer,
    StatusResultSerializer,
    UpsertResultSerializer,
)


class CustomersErrorSerializer(serializers.Serializer):
    """A refusal: 400, 401, 403, 404 or 409, with the reason."""

    detail = serializers.CharField(read_only=True)


ERRORS = {
    400: OpenApiResponse(CustomersErrorSerializer, description="Bad input; nothing stored."),
    401: OpenApiResponse(CustomersErrorSerializer, description="No or wrong credentials."),
    404: OpenApiResponse(CustomersErrorSerializer, description="No such customer or order."),
}
FORBIDDEN = {
    403: OpenApiResponse(CustomersErrorSerializer, description="Your role does not allow this.")
}
REFUSED = {409: OpenApiResponse(CustomersErrorSerializer, description="Refused in this state.")}


class _Base(APIView):
    """Errors map to answers in one place for every API: `smartdesk.core.api_errors`."""


class BackOfficeView(_Base):
    authentication_classes = [BackOfficeAuthentication]
    permission_classes = [IsBackOfficeClient]


def _parse(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


# --- back office: customers and orders --------------------------------------------------------


class CustomerUpsertView(BackOfficeView):
    @extend_schema(
        summary="Create or update a customer by the back office's id",
        description="Idempotent. Lists that are given (allergies, dislikes, favourites, "
        "preferences, promotions) replace what is stored; lists left out are kept. A phone "
        "or e-mail that already belongs to another customer is not moved (see `warnings`).",
        request=CustomerUpsertSerializer,
        responses={200: UpsertResultSerializer, **ERRORS},
        tags=["back office"],
    )
    def put(self, request: Request, external_id: str) -> Response:
        data = _parse(CustomerUpsertSerializer, request.data)
        if len(external_id) > 64:
            raise DjangoValidationError(_("The id is too long (at most 64 characters)."))
        customer, created, warnings = orders.customer_upsert(
            data={**data, "external_id": external_id}
        )
        return Response(
            UpsertResultSerializer(
                {
                    "id": customer.pk,
                    "external_id": external_id,
                    "created": created,
                    "warnings": warnings,
                }
            ).data
        )


class OrderUpsertView(BackOfficeView):
    @extend_schema(
        summary="Create or update an order by the back office's id",
        description="Idempotent: the same order sent twice is stored once, and a completed "
        "order accrues loyalty points once, whatever the retries.",
        request=OrderUpsertSerializer,
        responses={200: UpsertResultSerializer, **ERRORS},
        tags=["back office"],
    )
    def put(self, request: Request, external_id: str) -> Response:
        data = _parse(OrderUpsertSerializer, request.data)
        if len(external_id) > 64:
            raise DjangoValidationError(_("The id is too long (at most 64 characters)."))
        result = orders.orders_upsert(rows=[(0, {**data, "external_id": external_id})])
        if result.errors:
            raise serializers.ValidationError(result.errors[0])
        order = result.orders[0]
        return Response(
            UpsertResultSerializer(
                {
                    "id": order.pk,
                    "external_id": external_id,
                    "created": bool(result.created),
                    "warnings": result.warnings.get(0, []),
                }
            ).data
        )


class BulkOrdersView(BackOfficeView):
    @extend_schema(
        summary="Create or update up to 1,000 orders",
        description="Every row is judged on its own: the valid rows are stored, each invalid "
        "one is listed in `errors` with its index and reasons. A malformed request (not an "
        "object with an `orders` list of 1–1,000 rows) is refused whole: nothing is stored.",
        request=BulkOrdersSerializer,
        responses={200: BulkResultSerializer, **ERRORS},
        tags=["back office"],
    )
    def post(self, request: Request) -> Response:
        envelope = _parse(BulkOrdersSerializer, request.data)
        return Response(BulkResultSerializer(bulk_upsert(envelope["orders"])).data)


class OrderStatusWebhookView(_Base):
    """Signed, not token-authenticated: the back office's webhook sender knows the secret."""

    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []

    @extend_schema(
        summary="Order status changed (webhook)",
        description="Headers: `X-Smartdesk-Timestamp` (Unix seconds) and "
        "`X-Smartdesk-Signature: sha256=<hex>`, the HMAC-SHA256 of `<timestamp>.<raw body>` "
        "with the client's webhook secret. A status older than the stored one is ignored "
        "(`applied: false`). Completing accrues points once; cancelling or refunding a "
        "completed order reverses them once.",
        request=OrderStatusWebhookSerializer,
        parameters=[
            OpenApiParameter("X-Smartdesk-Timestamp", str, OpenApiParameter.HEADER, required=True),
            OpenApiParameter("X-Smartdesk-Signature", str, OpenApiParameter.HEADER, required=True),
        ],
        responses={200: StatusResultSerializer, **ERRORS},
        tags=["back office"],
    )
    def post(self, request: Request, key: str) -> Response:
        client = IntegrationClient.objects.filter(key=key, is_active=True).first()
        # Read the raw body before DRF parses it: the signature is over the exact bytes.
        body = request.body
        if client is None or not signature_valid(
            client,
            timestamp=request.headers.get("X-Smartdesk-Timestamp", ""),
            signature=request.headers.get("X-Smartdesk-Signature", ""),
            body=body,
        ):
            return Response(
                {"detail": _("Missing, stale or wrong signature.")},
                status=status.HTTP_401_UNAUTHORIZED,
            )
        data = _parse(OrderStatusWebhookSerializer, request.data)
        change = orders.order_status_set(
            external_id=data["external_id"],
            status=data["status"],
            changed_at=data.get("changed_at"),
        )
        return Response(
            StatusResultSerializer(
                {
                    "external_id": change.order.external_id,
                    "status": change.order.status,
                    "applied": change.applied,
                }
            ).data
        )


# --- back office: the checkout ----------------------------------------------------------------


def _balance_data(customer: Customer) -> dict[str, Any]:
    summary = loyalty_summary(customer.pk)
    return {
        "customer_external_id": customer.external_id,
        "balance": summary.balance,
        "tier": summary.tier,
        "spend_12_months": summary.spend,
        "next_tier": summary.next_tier,
        "to_next_tier": summary.to_next_tier,
    }


class BalanceView(BackOfficeView):
    @extend_schema(
        summary="Loyalty balance and tier",
        responses={200: BalanceSerializer, **ERRORS},
        tags=["loyalty"],
    )
    def get(self, request: Request, external_id: str) -> Response:
        customer = customer_by_external_id(external_id)
        return Response(BalanceSerializer(_balance_data(customer)).data)


def _redemption_data(redemption: loyalty.Redemption) -> dict[str, Any]:
    return {
        "transaction": redemption.transaction,
        "created": redemption.created,
        "balance": redemption.balance,
    }


class RedeemView(BackOfficeView):
    @extend_schema(
        summary="Redeem points at the checkout",
        description="The same `idempotency_key` again returns the first redemption and "
        "redeems nothing more (409 if it asked for a different amount). Never takes the "
        "balance below zero, whatever the number of concurrent requests (409).",
        request=RedeemSerializer,
        responses={200: RedemptionResultSerializer, **ERRORS, **REFUSED},
        tags=["loyalty"],
    )
    def post(self, request: Request, external_id: str) -> Response:
        data = _parse(RedeemSerializer, request.data)
        customer = customer_by_external_id(external_id)
        redemption = loyalty.loyalty_redeem(
            customer=customer,
            points=data["points"],
            idempotency_key=data["idempotency_key"],
            reason=data["reason"],
        )
        return Response(RedemptionResultSerializer(_redemption_data(redemption)).data)


class CancelRedemptionView(BackOfficeView):
    @extend_schema(
        summary="Cancel a redemption (the checkout was abandoned)",
        description="Gives back the points of the redemption made with this key, once.",
        request=CancelRedemptionSerializer,
        responses={200: RedemptionResultSerializer, **ERRORS, **REFUSED},
        tags=["loyalty"],
    )
    def post(self, request: Request, external_id: str) -> Response:
        data = _parse(CancelRedemptionSerializer, request.data)
        customer = customer_by_external_id(external_id)
        redemption = loyalty.loyalty_redemption_cancel(
            customer=customer, idempotency_key=data["idempotency_key"]
        )
        return Response(RedemptionResultSerializer(_redemption_data(redemption)).data)


# People (manual adjustments, goodwill decisions) are served by `chats.api.customers`: they
# take the customer through the conversation gate, which lives in chats.
