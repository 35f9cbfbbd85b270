"""The Django admin site as the super-admin's tool, and the admin base every app's admins share.

Who may use the site is decided in `accounts.admin_base` (role capabilities instead of
is_staff); this module holds the parts that need no account: the titles, the gate's answers
(sign in, or a plain 403) and the one sign-in page.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import update_wrapper
from typing import Any

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _


class SmartdeskAdminSite(admin.AdminSite):
    site_header = _("Smartdesk administration")
    site_title = _("Smartdesk administration")
    index_title = _("Administration")

    def admin_view(self, view: Callable[..., Any], cacheable: bool = False) -> Callable[..., Any]:
        inner = super().admin_view(view, cacheable)

        def gate(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            # A signed-in user without the capability gets a plain 403, not a login loop.
            if not self.has_permission(request):
                raise PermissionDenied(_("Your role does not allow the administration site."))
            return inner(request, *args, **kwargs)

        return update_wrapper(gate, view)

    def login(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        # One sign-in page for the whole product; a signed-in user goes to the admin itself
        # (sending them to the login page would bounce straight back here).
        if request.user.is_authenticated:
            return redirect("admin:index")
        return redirect_to_login(request.GET.get("next") or reverse("admin:index"))


class SmartdeskModelAdmin(admin.ModelAdmin):
    def get_changelist_formset(self, request: HttpRequest, **kwargs: Any) -> Any:
        # The `list_editable` inputs sit in table cells with no <label> (axe: label): each is
        # named by its field's label, as its column header reads.
        formset = super().get_changelist_formset(request, **kwargs)
        for field in formset.form.base_fields.values():
            if field.label:
                field.widget.attrs.setdefault("aria-label", str(field.label))
        return formset
