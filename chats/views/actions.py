"""Operator actions (POST): parse a form, gate, one service call, answer with the fresh
fragment (htmx) or a redirect."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from chats.forms import (
    DeleteForm,
    PriorityForm,
    SendForm,
    SnoozeForm,
    TransferForm,
    form_errors,
)
from chats.models import Conversation, ConversationEvent
from chats.selectors import (
    conversation_for,
    message_for,
)
from chats.services import conversations as conversation_services
from chats.services import messages as message_services
from chats.services.conversations import ActionRefused
from chats.views.presenters import (
    is_htmx,
    list_state,
    render_page,
    thread_context,
    time_zone_of,
)

Status = Conversation.Status
EventType = ConversationEvent.Type

# --- actions ---------------------------------------------------------------------------------


def _refused(
    request: HttpRequest,
    conversation: Conversation,
    errors: list[str],
    status: int,
    send_form: SendForm | None = None,
) -> HttpResponse:
    """Answer a refused action: 400 (bad input) / 403 / 409 (wrong state), nothing changed."""
    if is_htmx(request):
        response = render(request, "chats/_errors.html", {"errors": errors}, status=status)
        response["HX-Retarget"] = "#action-errors"
        response["HX-Reswap"] = "innerHTML"
        return response
    fresh = conversation_for(request.user, conversation.pk, include_deleted=True)
    return render_page(
        request,
        state=list_state(request),
        conversation=fresh,
        status=status,
        errors=errors,
        send_form=send_form,
    )


def _done(request: HttpRequest, pk: int) -> HttpResponse:
    """After an action: the fresh thread (htmx, which then refreshes the list and the panel)
    or a redirect to the conversation; to the inbox if the action took it out of sight."""
    state = list_state(request)
    try:
        conversation = conversation_for(request.user, pk, include_deleted=True)
    except Http404:
        flash.info(request, _("Done. The conversation is no longer in your view."))
        url = reverse("inbox") + state.suffix()
        if is_htmx(request):
            response = HttpResponse()
            response["HX-Redirect"] = url
            return response
        return redirect(url)
    if is_htmx(request):
        response = render(
            request, "chats/_thread.html", thread_context(request, conversation, state)
        )
        response["HX-Trigger"] = "sd-changed"
        return response
    return redirect(reverse("conversation", args=[pk]) + state.suffix())


def _perform(
    request: HttpRequest,
    conversation: Conversation,
    action: Callable[[], Any],
    *,
    form: Any = None,
) -> HttpResponse:
    send_form = form if isinstance(form, SendForm) else None
    if form is not None and not form.is_valid():
        return _refused(request, conversation, form_errors(form), 400, send_form)
    try:
        action()
    except ValidationError as error:
        return _refused(request, conversation, list(error.messages), 400, send_form)
    except ActionRefused as error:
        return _refused(request, conversation, [str(error)], 409, send_form)
    except PermissionDenied as error:
        message = str(error) or _("Your role does not allow this.")
        return _refused(request, conversation, [message], 403, send_form)
    return _done(request, conversation.pk)


def _gated(request: HttpRequest, pk: int) -> Conversation:
    """The conversation an action changes, through the write form of the gate: 404 if the
    user does not see it, 403 if they see it but may not act on it."""
    return conversation_for(request.user, pk, include_deleted=True, for_write=True)


def _one_service(service: Callable[..., Any]) -> Callable[[HttpRequest, int], HttpResponse]:
    """A POST action that takes no input: gate, then `service(conversation=, actor=)`."""

    @login_required
    @require_POST
    def action(request: HttpRequest, pk: int) -> HttpResponse:
        conversation = _gated(request, pk)
        return _perform(
            request,
            conversation,
            lambda: service(conversation=conversation, actor=request.user),
        )

    action.__name__ = action.__qualname__ = service.__name__
    return action


conversation_take = _one_service(conversation_services.conversation_take)
conversation_unassign = _one_service(conversation_services.conversation_unassign)
conversation_unsnooze = _one_service(conversation_services.conversation_unsnooze)
conversation_close = _one_service(conversation_services.conversation_close)
conversation_reopen = _one_service(conversation_services.conversation_reopen)
conversation_restore = _one_service(conversation_services.conversation_restore)
conversation_undo_close = _one_service(conversation_services.conversation_close_undo)


@login_required
@require_POST
def conversation_read(request: HttpRequest, pk: int) -> HttpResponse:
    """The open thread showed what the socket pushed: the assignee has read it (204)."""
    conversation = _gated(request, pk)
    conversation_services.conversation_mark_read(conversation=conversation, actor=request.user)
    return HttpResponse(status=204)


@login_required
@require_POST
def conversation_send(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _gated(request, pk)
    form = SendForm(request.POST, auto_id="composer-%s")

    def send() -> None:
        if form.cleaned_data["kind"] == "note":
            message_services.message_note(
                conversation=conversation, author=request.user, body=form.cleaned_data["body"]
            )
        else:
            message_services.message_reply(
                conversation=conversation, author=request.user, body=form.cleaned_data["body"]
            )

    return _perform(request, conversation, send, form=form)


@login_required
@require_POST
def conversation_transfer(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _gated(request, pk)
    form = TransferForm(request.POST)
    return _perform(
        request,
        conversation,
        lambda: conversation_services.conversation_transfer(
            conversation=conversation,
            actor=request.user,
            reason=form.cleaned_data["reason"],
            team=form.cleaned_data["team"],
            operator=form.cleaned_data["operator"],
        ),
        form=form,
    )


@login_required
@require_POST
def conversation_priority(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _gated(request, pk)
    form = PriorityForm(request.POST)
    return _perform(
        request,
        conversation,
        lambda: conversation_services.conversation_set_priority(
            conversation=conversation, priority=form.cleaned_data["priority"], actor=request.user
        ),
        form=form,
    )


@login_required
@require_POST
def conversation_snooze(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _gated(request, pk)
    now = timezone.now()
    form = SnoozeForm(request.POST, tz=time_zone_of(request.user), now=now)
    return _perform(
        request,
        conversation,
        lambda: conversation_services.conversation_snooze(
            conversation=conversation,
            actor=request.user,
            until=form.cleaned_data["wake_at"],
            wake_on_reply=form.cleaned_data["wake_on_reply"],
            reason=form.cleaned_data["reason"],
            now=now,
        ),
        form=form,
    )


@login_required
@require_POST
def conversation_delete(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _gated(request, pk)
    form = DeleteForm(request.POST)
    return _perform(
        request,
        conversation,
        lambda: conversation_services.conversation_delete(
            conversation=conversation, actor=request.user, reason=form.cleaned_data["reason"]
        ),
        form=form,
    )


@login_required
@require_POST
def message_delete(request: HttpRequest, pk: int) -> HttpResponse:
    message = message_for(request.user, pk, for_write=True)
    return _perform(
        request,
        message.conversation,
        lambda: message_services.message_delete(message=message, actor=request.user),
    )
