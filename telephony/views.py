"""Telephony's web entry points: the dialplan's routing endpoint, and the operator's call
card (the screen-pop's content), note, one-click customer, follow-up conversation and
click-to-call."""

from __future__ import annotations

import hmac
import logging

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts.access import Capability, has_capability
from chats.forms import form_errors
from chats.selectors import can_act
from chats.services.conversations import ActionRefused
from chats.views.presenters import contact_stats, is_htmx
from customers.selectors import customer_card, mask_value
from telephony import selectors, services

logger = logging.getLogger(__name__)

# --- routing for the dialplan -----------------------------------------------------------------


def _route_allowed(request: HttpRequest) -> bool:
    token = settings.TELEPHONY_ROUTE_TOKEN
    if token:
        given = request.GET.get("token", "")
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            given = header[7:]
        if given and hmac.compare_digest(given.encode(), token.encode()):
            return True
    return request.META.get("REMOTE_ADDR", "") in settings.TELEPHONY_ROUTE_ALLOWED_IPS


@never_cache
@require_GET
def route(request: HttpRequest) -> HttpResponse:
    """`GET /api/v1/telephony/route?caller=&did=` -> the queue name, as plain text.

    Always a queue for an allowed caller: an unknown or malformed number gets the default.
    No session, no DRF: this sits in the path of every incoming call.
    """
    if not _route_allowed(request):
        return HttpResponse(
            _("Forbidden: a valid token is required."),
            status=403,
            content_type="text/plain; charset=utf-8",
        )
    caller = request.GET.get("caller", "")[:64]
    did = request.GET.get("did", "")[:64]
    try:
        queue = selectors.route_queue(caller=caller, did=did)
    except Exception:  # the PBX must always get a queue, even if Redis or the DB hiccups
        logger.exception("telephony route failed; answering the default queue")
        queue = settings.TELEPHONY_DEFAULT_QUEUE
    return HttpResponse(queue, content_type="text/plain; charset=utf-8")


# --- the operator's call card -----------------------------------------------------------------


class NoteForm(forms.Form):
    note = forms.CharField(
        label=gettext_lazy("Note"), max_length=5000, required=False, widget=forms.Textarea
    )


class NewCustomerForm(forms.Form):
    first_name = forms.CharField(label=gettext_lazy("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=gettext_lazy("Last name"), max_length=150, required=False)


class DialForm(forms.Form):
    customer = forms.IntegerField(min_value=1)


def _card_context(request: HttpRequest, call: object, **extra: object) -> dict:
    number = call.caller or call.caller_raw  # type: ignore[attr-defined]
    if number and not has_capability(request.user, Capability.VIEW_CUSTOMER_PII):
        number = mask_value(number)  # as on the customer card
    context: dict = {"call": call, "caller_shown": number, "errors": [], "notice": ""}
    # The write gate: a role that only looks is offered no action (the views refuse it, 403).
    context["can_act"] = can_act(request.user)
    customer = call.customer  # type: ignore[attr-defined]
    if customer is not None:
        context.update(
            {
                "customer": customer,
                "card": customer_card(customer, user=request.user),
                "stats": contact_stats(customer.pk),
                "can_goodwill": False,  # goodwill is granted from a conversation
                "goodwill_url": None,
            }
        )
    context.update(extra)
    return context


@login_required
@require_GET
def call_card(request: HttpRequest, pk: int) -> HttpResponse:
    """The screen-pop's body: the customer's card, or "unknown caller" with one-click create."""
    call = selectors.call_for(request.user, pk)
    return render(request, "telephony/_call_card.html", _card_context(request, call))


@login_required
@require_POST
def call_customer(request: HttpRequest, pk: int) -> HttpResponse:
    call = selectors.call_for(request.user, pk, for_write=True)
    form = NewCustomerForm(request.POST)
    if not form.is_valid():
        context = _card_context(request, call, errors=form_errors(form))
        return render(request, "telephony/_call_card.html", context, status=400)
    try:
        call = services.call_customer_create(
            call=call,
            actor=request.user,
            first_name=form.cleaned_data["first_name"],
            last_name=form.cleaned_data["last_name"],
        )
    except ValidationError as error:
        context = _card_context(request, call, errors=list(error.messages))
        return render(request, "telephony/_call_card.html", context, status=400)
    return render(
        request,
        "telephony/_call_card.html",
        _card_context(request, call, notice=_("Customer created.")),
    )


@login_required
@require_POST
def call_note(request: HttpRequest, pk: int) -> HttpResponse:
    call = selectors.call_for(request.user, pk, for_write=True)
    form = NoteForm(request.POST)
    status, errors, notice = 200, [], ""
    if not form.is_valid():
        status, errors = 400, form_errors(form)
    else:
        try:
            call = services.call_note_save(
                call=call, actor=request.user, note=form.cleaned_data["note"]
            )
            notice = _("Note saved.")
        except ValidationError as error:
            status, errors = 400, list(error.messages)
    context = _card_context(request, call, errors=errors, notice=notice)
    return render(request, "telephony/_call_card.html", context, status=status)


@login_required
@require_POST
def call_followup(request: HttpRequest, pk: int) -> HttpResponse:
    """ "Open a follow-up conversation" from the call: opens it (or the one already opened
    from this call) and goes there: HX-Redirect for htmx, a 303 otherwise."""
    call = selectors.call_for(request.user, pk, for_write=True)
    try:
        conversation, _created = services.call_followup_open(call=call, actor=request.user)
    except (ValidationError, ActionRefused, PermissionDenied) as error:
        status = {ValidationError: 400, ActionRefused: 409, PermissionDenied: 403}[type(error)]
        errors = list(error.messages) if isinstance(error, ValidationError) else [str(error)]
        if request.POST.get("from") == "history":  # the button in the customer card's calls
            return render(
                request, "telephony/_followup_refused.html", {"errors": errors}, status=status
            )
        context = _card_context(request, call, errors=errors)
        return render(request, "telephony/_call_card.html", context, status=status)
    url = reverse("conversation", args=[conversation.pk])
    if is_htmx(request):
        response = HttpResponse()
        response["HX-Redirect"] = url
        return response
    return redirect(url)


@login_required
@require_POST
def call_dial(request: HttpRequest) -> JsonResponse:
    """Click-to-call from the card: the operator's phone rings first, then the customer's.
    The number never leaves the server (the card may mask it)."""
    form = DialForm(request.POST)
    if not form.is_valid():
        return JsonResponse({"detail": " ".join(form_errors(form))}, status=400)
    try:  # the write form of the gate: 404 out of reach, 403 for a role that only looks
        customer_id = selectors.customer_to_call(request.user, form.cleaned_data["customer"])
    except Http404:
        return JsonResponse({"detail": _("No such customer.")}, status=404)
    except PermissionDenied as error:
        return JsonResponse({"detail": str(error)}, status=403)
    try:
        call = services.call_originate(actor=request.user, customer_id=customer_id)
    except ValidationError as error:
        return JsonResponse({"detail": " ".join(error.messages)}, status=400)
    return JsonResponse(
        {"call_id": call.pk, "detail": _("Your phone rings first; then we dial the customer.")},
        status=202,
    )
