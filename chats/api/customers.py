"""The customer card over the API, through the conversation gate (`selectors.customer_for`):
a role sees the card of a customer it has a conversation with (every card with scope `all`).
Personal data inside follows the capability (`customers.selectors.customer_card`)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chats.api.base import ApiMixin
from chats.selectors import customer_for
from customers.selectors import customer_card
from customers.serializers import CardSerializer


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
