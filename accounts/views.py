from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
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
