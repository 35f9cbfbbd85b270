"""The transfer picker: a fragment listing the teams and the online operators a
conversation can go to, with presence and load, filtered by what the operator types.

The transfer itself stays `chats.views.actions.conversation_transfer` (a plain form that
works without JavaScript: the picker only fills its `team` / `operator` fields)."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from chats.forms import form_errors
from chats.selectors import conversation_for
from chats.transfer_targets import transfer_targets


class PickerForm(forms.Form):
    q = forms.CharField(required=False, max_length=100)


@login_required
@require_GET
def conversation_transfer_picker(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the picker fragment; 404 outside the user's scope, 403 for a role that may not
    act on the conversation, 400 for a query that is not one."""
    conversation = conversation_for(request.user, pk, for_write=True)
    form = PickerForm(request.GET)
    if not form.is_valid():
        return render(request, "chats/_errors.html", {"errors": form_errors(form)}, status=400)
    query = form.cleaned_data["q"]
    teams, operators = transfer_targets(conversation=conversation, query=query)
    return render(
        request,
        "chats/_transfer.html",
        {
            "conversation": conversation,
            "q": query,
            "teams": teams,
            "operators": operators,
            "count": len(teams) + len(operators),
            "picker_url": reverse("conversation-transfer-picker", args=[conversation.pk]),
        },
    )
