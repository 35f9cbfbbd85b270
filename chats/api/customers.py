"""The customer over the API, through the conversation gate (`selectors.customer_for`).

- The card: a role sees the card of a customer it has a conversation with (every card with
  scope `all`). Personal data inside follows the capability (`customers.selectors.customer_card`).
- Customer-level writes (manual loyalty adjustments, goodwill decisions) take the customer
  through the write form of the gate (`customer_for(..., for_write=True)`): a customer of a
  conversation the user may act on, or any with `Capability.ACT_ON_ALL_CUSTOMERS`. A customer
  the user cannot see is a 404, one they see but may not change a 403.

These live here, not in `customers.api`, because the gate is the conversations' (customers does
not import chats); the routes and their names are unchanged.
"""

from __future__ import annotations

from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import Capability, api_capability
from chats.api.base import ApiMixin, parse
from chats.selectors import customer_for
from customers import loyalty
from customers.api import ERRORS, FORBIDDEN, REFUSED
from customers.models import GoodwillRequest
from customers.selectors import customer_card
from customers.serializers import (
    AdjustSerializer,
    CardSerializer,
    GoodwillDecisionSerializer,
    GoodwillRequestSerializer,
    LedgerLineSerializer,
)


class CustomerCardView(ApiMixin, APIView):
    @extend_schema(
        summary="The customer card",
        description="Name, allergies, preferences, last orders with items, loyalty, "
        "promotions and offers, for a customer you have a conversation with. Phones, e-mails "
        "and addresses are masked for roles without the personal-data capability.",
        responses={200: CardSerializer},
        tags=["customers"],
    )
    def get(self, request: Request, pk: int) -> Response:
        customer = customer_for(request.user, pk)
        return Response(CardSerializer(customer_card(customer, user=request.user)).data)


class AdjustView(ApiMixin, APIView):
    permission_classes = [api_capability(Capability.ADJUST_LOYALTY)]

    @extend_schema(
        summary="Adjust a customer's points by hand",
        description="Either sign, with a reason; the ledger line names you. A negative "
        "adjustment cannot take the balance below zero (409). Only for a customer of a "
        "conversation you may act on, unless your role may change any customer's loyalty "
        "(404 for a customer you cannot see, 403 for one you see but may not change).",
        request=AdjustSerializer,
        responses={200: LedgerLineSerializer, **ERRORS, **FORBIDDEN, **REFUSED},
        tags=["loyalty"],
    )
    def post(self, request: Request, pk: int) -> Response:
        customer = customer_for(request.user, pk, for_write=True)
        data = parse(AdjustSerializer, request.data)
        line = loyalty.loyalty_adjust(
            customer=customer, points=data["points"], reason=data["reason"], actor=request.user
        )
        return Response(LedgerLineSerializer(line).data)


class GoodwillDecisionView(ApiMixin, APIView):
    permission_classes = [api_capability(Capability.ADJUST_LOYALTY)]

    @extend_schema(
        summary="Approve or reject a goodwill request above an operator's limit",
        description="Only for a request whose customer you may change (as for adjustments); "
        "a request for a customer you cannot see is a 404.",
        request=GoodwillDecisionSerializer,
        responses={200: GoodwillRequestSerializer, **ERRORS, **FORBIDDEN, **REFUSED},
        tags=["loyalty"],
    )
    def post(self, request: Request, pk: int) -> Response:
        found = GoodwillRequest.objects.select_related("account").filter(pk=pk).first()
        if found is None:
            raise Http404(_("No such goodwill request."))
        try:
            customer_for(request.user, found.account.customer_id, for_write=True)
        except Http404:
            raise Http404(_("No such goodwill request.")) from None
        data = parse(GoodwillDecisionSerializer, request.data)
        decided = loyalty.goodwill_decide(
            request=found, approve=data["approve"], actor=request.user
        )
        return Response(GoodwillRequestSerializer(decided).data)
