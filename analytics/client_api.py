"""CSAT for the widget and the mobile app, under the client API and its authentication
(`Authorization: Bearer <client token>`, the inbox's allowed origins, CORS):

- `GET  /api/v1/client/<key>/csat/` — the customer's pending surveys in this inbox;
- `POST /api/v1/client/<key>/csat/<id>/` — `{rating: 1..5, comment?}`; 200 with the survey.
  The same rating again is 200 (a retry); another rating 409; not theirs 404.

An endpoint rather than a socket message type: the app must be able to answer after a
restart, without a socket, and a POST gives the client a clear answer (and errors).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from analytics.csat import AlreadyRated, csat_submit, pending_surveys, survey_data
from chats.api.base import parse
from chats.channels.client.api import ClientView
from chats.serializers import ErrorSerializer


class CsatAnswerSerializer(serializers.Serializer):
    rating = serializers.IntegerField(min_value=1, max_value=5)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class CsatListView(ClientView):
    @extend_schema(
        summary="The customer's pending satisfaction surveys",
        responses={200: OpenApiResponse(description="surveys")},
        auth=[],
        tags=["client API"],
    )
    def get(self, request: Request, key: str) -> Response:
        session = self.get_session(request)
        if session.customer is None:
            return Response({"surveys": []})
        surveys = pending_surveys(inbox=self.inbox, customer_id=session.customer.pk)
        return Response({"surveys": [survey_data(s) for s in surveys]})


class CsatAnswerView(ClientView):
    @extend_schema(
        summary="Answer a satisfaction survey",
        request=CsatAnswerSerializer,
        responses={
            200: OpenApiResponse(description="the survey"),
            400: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
        auth=[],
        tags=["client API"],
    )
    def post(self, request: Request, key: str, pk: int) -> Response:
        session = self.get_session(request)
        data = parse(CsatAnswerSerializer, request.data)
        try:
            survey = csat_submit(
                survey_id=pk,
                customer_id=session.customer.pk if session.customer else None,
                rating=data["rating"],
                comment=data["comment"],
                inbox=self.inbox,
            )
        except PermissionDenied as refusal:
            raise exceptions.NotFound(str(refusal)) from None
        except AlreadyRated as refusal:
            return Response({"detail": str(refusal)}, status=status.HTTP_409_CONFLICT)
        return Response({"survey": survey_data(survey)})


urlpatterns = [
    path("<str:key>/csat/", CsatListView.as_view(), name="client-csat"),
    path("<str:key>/csat/<int:pk>/", CsatAnswerView.as_view(), name="client-csat-answer"),
]
