"""The customer card's actions inside a conversation: goodwill points, and the allergy check
the composer runs before sending. Gated by the conversation, like every conversation view."""

from __future__ import annotations

from django import forms
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from chats.forms import form_errors
from chats.selectors import conversation_for
from chats.services.loyalty import conversation_goodwill_grant
from chats.views.presenters import is_htmx, list_state, panel_context
from customers.loyalty import LoyaltyRefused
from customers.selectors import allergy_conflicts


class GoodwillForm(forms.Form):
    points = forms.IntegerField(label=gettext_lazy("Points"), min_value=1, max_value=1_000_000)
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=300)


class AllergyCheckForm(forms.Form):
    body = forms.CharField(required=False, strip=False, max_length=20_000)


@login_required
@require_POST
def conversation_goodwill(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = conversation_for(request.user, pk, for_write=True)
    form = GoodwillForm(request.POST, auto_id="goodwill-%s")
    errors: list[str] = []
    notice = ""
    status = 200
    if not form.is_valid():
        errors, status = form_errors(form), 400
    else:
        try:
            outcome = conversation_goodwill_grant(
                conversation=conversation,
                points=form.cleaned_data["points"],
                reason=form.cleaned_data["reason"],
                actor=request.user,
            )
        except ValidationError as error:
            errors, status = list(error.messages), 400
        except (PermissionDenied, LoyaltyRefused) as error:
            errors, status = [str(error)], 409
        else:
            notice = (
                _("Above your limit: an admin has been asked to approve %(n)d points.")
                if outcome.pending
                else _("%(n)d points granted.")
            ) % {"n": form.cleaned_data["points"]}
    if is_htmx(request):
        context = panel_context(request, conversation, list_state(request))
        context.update(
            {"goodwill_errors": errors, "goodwill_notice": notice, "goodwill_form": form}
        )
        response = render(request, "chats/_panel.html", context, status=status)
        if status == 200:
            response["HX-Trigger"] = "sd-changed"  # the thread shows the new system line
        return response
    for error in errors:
        flash.error(request, error)
    if notice:
        flash.success(request, notice)
    return redirect(reverse("conversation", args=[pk]) + list_state(request).suffix())


@login_required
@require_POST
def conversation_allergy_check(request: HttpRequest, pk: int) -> JsonResponse:
    """Which of the customer's allergies a draft names: the composer warns before sending."""
    conversation = conversation_for(request.user, pk)
    form = AllergyCheckForm(request.POST)
    if not form.is_valid():
        return JsonResponse({"detail": " ".join(form_errors(form))}, status=400)
    found = allergy_conflicts(conversation.customer_id, form.cleaned_data["body"])
    message = ""
    if found:
        message = _(
            "%(name)s is allergic to %(allergens)s, and this reply mentions %(words)s. Send anyway?"
        ) % {
            "name": conversation.customer.name,
            "allergens": ", ".join(c.label for c in found),
            "words": ", ".join(w for c in found for w in c.words),
        }
    return JsonResponse(
        {
            "conflicts": [
                {"allergen": c.allergen, "label": c.label, "words": list(c.words)} for c in found
            ],
            "message": message,
        }
    )
