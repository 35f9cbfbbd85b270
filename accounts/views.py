from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts import services
from accounts.access import capabilities_of, profile_of
from accounts.forms import PreferencesForm
from accounts.selectors import user_teams


@login_required
def home(request: HttpRequest) -> HttpResponse:
    profile = profile_of(request.user)
    return render(
        request,
        "accounts/home.html",
        {
            "profile": profile,
            "teams": user_teams(user=request.user),
            "capabilities": sorted(capabilities_of(request.user), key=lambda c: c.label),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    profile = profile_of(request.user)
    if profile is None:
        return render(request, "accounts/no_profile.html", status=409)
    form = PreferencesForm(request.POST or None, instance=profile)
    if request.method == "POST":
        if form.is_valid():
            services.profile_update_preferences(
                profile=profile, **{f: form.cleaned_data[f] for f in form.Meta.fields}
            )
            messages.success(request, _("Preferences saved."))
            return redirect("preferences")
        return render(request, "accounts/preferences.html", {"form": form}, status=400)
    return render(request, "accounts/preferences.html", {"form": form})


@login_required
@require_http_methods(["POST"])
def presence(request: HttpRequest) -> HttpResponse:
    """The operator sets themselves online, away or offline (the header's control)."""
    try:
        profile = services.presence_set(
            user=request.user, presence=request.POST.get("presence", "")
        )
    except ValidationError as error:
        return HttpResponse(" ".join(error.messages), status=400, content_type="text/plain")
    if request.headers.get("HX-Request"):
        return render(
            request,
            "accounts/_presence.html",
            {"presence": profile.presence, "presence_choices": profile.Presence.choices},
        )
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}):
        target = "home"
    return redirect(target)
