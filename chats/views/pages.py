"""The operator pages and their htmx fragments (GET)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.http import require_GET

from chats.forms import (
    TemplateSearchForm,
)
from chats.models import Conversation, ConversationEvent
from chats.selectors import (
    conversation_for,
    templates_for,
)
from chats.services import conversations as conversation_services
from chats.services.templates import (
    template_context,
    template_render,
    template_render_html,
    templates_by_language,
)
from chats.views.presenters import (
    TEMPLATE_OPTIONS,
    list_context,
    list_state,
    panel_context,
    render_page,
    thread_context,
)

Status = Conversation.Status
EventType = ConversationEvent.Type


@login_required
@require_GET
def inbox_page(request: HttpRequest) -> HttpResponse:
    return render_page(request, state=list_state(request))


@login_required
@require_GET
def conversation_page(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = conversation_for(request.user, pk, include_deleted=True)
    conversation_services.conversation_mark_read(conversation=conversation, actor=request.user)
    return render_page(request, state=list_state(request), conversation=conversation)


@login_required
@require_GET
def inbox_list(request: HttpRequest) -> HttpResponse:
    current = request.GET.get("current")
    # isascii: str.isdigit() also accepts "²", which int() refuses.
    current_id = int(current) if current and current.isascii() and current.isdigit() else None
    return render(
        request, "chats/_list.html", list_context(request, list_state(request), current_id)
    )


@login_required
@require_GET
def conversation_thread(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = conversation_for(request.user, pk, include_deleted=True)
    # The assignee is looking at the thread: what just arrived is read.
    conversation_services.conversation_mark_read(conversation=conversation, actor=request.user)
    return render(
        request,
        "chats/_thread.html",
        thread_context(request, conversation, list_state(request)),
    )


@login_required
@require_GET
def conversation_panel(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = conversation_for(request.user, pk, include_deleted=True)
    return render(
        request, "chats/_panel.html", panel_context(request, conversation, list_state(request))
    )


@login_required
@require_GET
def conversation_templates(request: HttpRequest, pk: int) -> HttpResponse:
    """The template picker: templates whose shortcut starts with `?q=`, each previewed with
    this conversation's values (escaped), or the reason it cannot be used."""
    user = request.user
    conversation = conversation_for(user, pk)
    prefix = TemplateSearchForm(request.GET).shortcut_prefix()
    found = templates_for(user, conversation)
    if prefix:
        found = found.filter(shortcut__istartswith=prefix)
    # The customer's language first, then the operator's (chats.services.templates).
    found = templates_by_language(
        found,
        customer_language=conversation.customer.language,
        operator_language=translation.get_language() or "",
    )
    values = template_context(conversation, user)
    options = []
    for template in found[: TEMPLATE_OPTIONS * 2]:
        option = {"template": template, "preview": "", "text": "", "error": ""}
        try:
            option["preview"] = template_render_html(template.body, values)
            option["text"] = template_render(template.body, values)
        except ValidationError as error:
            option["error"] = " ".join(error.messages)
        options.append(option)
    return render(
        request,
        "chats/_templates.html",
        {"options": options[:TEMPLATE_OPTIONS], "prefix": prefix},
    )
