"""The operator's one-click correction of a conversation's classification (POST)."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from analytics.ai import classification
from analytics.ai.models import Label
from chats.selectors import conversation_for
from chats.views.presenters import is_htmx, list_state, thread_context


class CorrectionForm(forms.Form):
    label = forms.ChoiceField(label=_("label"), choices=Label.choices)
    topics = forms.CharField(label=_("topics"), required=False, max_length=500)

    def topic_list(self) -> list[str]:
        raw = self.cleaned_data.get("topics") or ""
        return [t.strip() for t in raw.replace(";", ",").split(",") if t.strip()]


@login_required
@require_POST
def classification_correct(request: HttpRequest, pk: int) -> HttpResponse:
    """Gate (404 outside the user's scope, 403 if they may not act), then the service."""
    conversation = conversation_for(request.user, pk, include_deleted=True, for_write=True)
    form = CorrectionForm(request.POST)
    errors: list[str] = []
    if not form.is_valid():
        errors = [str(e) for field_errors in form.errors.values() for e in field_errors]
    else:
        topics = form.topic_list()
        if "topics" not in request.POST:  # the one-click buttons send the label only
            existing = getattr(conversation, "ai_classification", None)
            topics = existing.shown_topics if existing else []
        try:
            classification.classification_correct(
                conversation=conversation,
                actor=request.user,
                label=form.cleaned_data["label"],
                topics=topics,
            )
        except ValidationError as error:
            errors = list(error.messages)
        except PermissionDenied as error:
            return HttpResponse(str(error), status=403)
    state = list_state(request)
    status = 400 if errors else 200
    if is_htmx(request):
        fresh = conversation_for(request.user, pk, include_deleted=True)
        if errors:
            response = render(request, "chats/_errors.html", {"errors": errors}, status=400)
            response["HX-Retarget"] = "#action-errors"
            response["HX-Reswap"] = "innerHTML"
            return response
        response = render(request, "chats/_thread.html", thread_context(request, fresh, state))
        response["HX-Trigger"] = "sd-changed"
        return response
    if errors:
        return render(
            request, "ai/correction_refused.html", {"errors": errors, "pk": pk}, status=status
        )
    return redirect(reverse("conversation", args=[pk]) + state.suffix())
