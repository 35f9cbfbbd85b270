"""The whole operator page: the list, and with an open conversation its thread and panel,
with the strings the page's scripts show."""

from __future__ import annotations

from collections.abc import Iterable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from chats.forms import SendForm
from chats.models import Conversation
from chats.selectors import can_act, live_event_latest
from chats.views.presenters.listing import ListState, list_context
from chats.views.presenters.panel import panel_context
from chats.views.presenters.thread import thread_context

# --- pages -----------------------------------------------------------------------------------


def _js_strings() -> dict[str, str]:
    return {
        "live": _("Live"),
        "connecting": _("Connecting…"),
        "reconnecting": _("Offline, reconnecting…"),
        "stopped": _("Live updates stopped: reload the page."),
        "newMessage": _("New message in this conversation."),
        "gone": _("This conversation is no longer available to you."),
        "reply": _("Send reply"),
        "note": _("Add note"),
        "replyLabel": _("Reply to the customer"),
        "noteLabel": _("Internal note (only colleagues see it)"),
        "templates": _("%(n)s templates. Up and down arrows choose, Enter inserts."),
        "noTemplates": _("No template starts with this shortcut."),
        # The screen-pop of a call (static/js/callpop.js).
        "callIncoming": _("Incoming call: %(name)s"),
        "callOutgoing": _("Outgoing call"),
        "callOutgoingTo": _("Outgoing call: %(name)s"),
        "callUnknown": _("Unknown caller"),
        "callWithheld": _("Number withheld"),
        "callQueue": _("Queue"),
        "callRinging": _("Ringing…"),
        "callAnswered": _("Answered"),
        "callEnded": _("Call ended: add a note if needed."),
        "callStopped": _("Stopped ringing."),
        "callFailed": _("The call could not be placed"),
        "callClose": _("Close"),
        "callLoading": _("Loading the customer card…"),
        "callDialFailed": _("Could not start the call."),
    }


def _read_url(pk: int) -> str:
    """Where the browser says that the assignee has read what the socket just showed in the
    open thread (a pushed message does not reload the thread, which is what marked it read)."""
    return reverse("conversation-read", args=[pk])


def render_page(
    request: HttpRequest,
    *,
    state: ListState,
    conversation: Conversation | None = None,
    status: int = 200,
    errors: Iterable[str] = (),
    send_form: SendForm | None = None,
) -> HttpResponse:
    # Read before anything else on the page: every event committed after this id is newer
    # than what the page shows, and the socket resumes from it.
    live_after = live_event_latest()
    context = list_context(request, state, conversation.pk if conversation else None)
    context["live_after"] = live_after
    context["errors"] = list(errors)
    context["js_strings"] = _js_strings()
    if conversation is not None:
        context.update(thread_context(request, conversation, state))
        # The customer card is the heaviest part of the page: it loads right after it.
        context.update(panel_context(request, conversation, state, lazy=True))
        context["send_form"] = send_form or SendForm(auto_id="composer-%s")
        context["thread_url"] = reverse("conversation-thread", args=[conversation.pk])
        context["panel_url"] = reverse("conversation-panel", args=[conversation.pk])
        context["templates_url"] = reverse("conversation-templates", args=[conversation.pk])
        context["allergy_check_url"] = reverse("conversation-allergy-check", args=[conversation.pk])
        context["read_url"] = _read_url(conversation.pk) if can_act(request.user) else ""
    return render(request, "chats/inbox.html", context, status=status)
