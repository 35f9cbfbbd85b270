"""Reply templates: the caller's list and the personalised render."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.utils import translation
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chats.api.base import (
    ERRORS,
    ApiMixin,
    parse_query,
)
from chats.filters import TemplateFilter
from chats.models import Conversation, ReplyTemplate
from chats.selectors import (
    conversation_for,
    templates_for,
)
from chats.serializers import (
    RenderedTemplateSerializer,
    ReplyTemplateSerializer,
    TemplateListQuerySerializer,
    TemplateRenderQuerySerializer,
)
from chats.services.templates import (
    template_context,
    template_render,
    template_render_html,
    templates_by_language,
)

# --- templates -------------------------------------------------------------------------


def _template_for(user: Any, conversation: Conversation, pk: int) -> ReplyTemplate:
    found = templates_for(user, conversation).filter(pk=pk).first()
    if found is None:
        raise Http404(_("No such template."))
    return found


def template_text(user: Any, conversation: Conversation, pk: int) -> str:
    """The template's text for this conversation (a reply body); 400 if it is not offered."""
    found = templates_for(user, conversation).filter(pk=pk).first()
    if found is None:
        raise serializers.ValidationError({"template_id": [_("No such template.")]})
    return template_render(found.body, template_context(conversation, user))


class TemplateListView(ApiMixin, generics.GenericAPIView):
    serializer_class = ReplyTemplateSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = TemplateFilter
    pagination_class = None
    queryset = ReplyTemplate.objects.none()  # the model, for the schema; rows come from get()

    @extend_schema(
        summary="Reply templates",
        description="The active templates you may use: global ones and your teams' (and the "
        "conversation's team's, with `conversation`). Not paginated.",
        parameters=[TemplateListQuerySerializer],
        responses={200: ReplyTemplateSerializer(many=True), **ERRORS},
        tags=["templates"],
    )
    def get(self, request: Request) -> Response:
        query = parse_query(TemplateListQuerySerializer, request)
        conversation = (
            conversation_for(request.user, query["conversation"])
            if "conversation" in query
            else None
        )
        templates = self.filter_queryset(
            templates_for(request.user, conversation).select_related("team")
        )
        if conversation is not None:
            # The customer's language first, then the caller's (as the picker orders them).
            templates = templates_by_language(
                templates,
                customer_language=conversation.customer.language,
                operator_language=translation.get_language() or "",
            )
        return Response(self.get_serializer(templates, many=True).data)


class TemplateRenderView(ApiMixin, APIView):
    @extend_schema(
        summary="Render a template for a conversation",
        description="An unknown placeholder answers 400 naming it.",
        parameters=[TemplateRenderQuerySerializer],
        responses={200: RenderedTemplateSerializer, **ERRORS},
        tags=["templates"],
    )
    def get(self, request: Request, pk: int) -> Response:
        query = parse_query(TemplateRenderQuerySerializer, request)
        conversation = conversation_for(request.user, query["conversation"])
        template = _template_for(request.user, conversation, pk)
        context = template_context(conversation, request.user)
        rendered = {
            "text": template_render(template.body, context),
            "html": str(template_render_html(template.body, context)),
        }
        return Response(RenderedTemplateSerializer(rendered).data)
