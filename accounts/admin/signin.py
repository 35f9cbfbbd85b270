"""Sign-in access: API tokens (the key shown once) and django-axes' sign-in lockouts.

axes registers its tables with Django's model permissions; here they follow the role
capabilities like the rest of access. Deleting an attempt unlocks that sign-in.
"""

from __future__ import annotations

from typing import Any

from axes import admin as axes_admin  # registers axes' admins first
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from rest_framework.authtoken.admin import TokenAdmin
from rest_framework.authtoken.models import TokenProxy

from accounts.admin_base import CapabilityModelAdmin, CapabilityPermissions

admin.site.unregister(TokenProxy)


@admin.register(TokenProxy)
class ApiTokenAdmin(CapabilityModelAdmin, TokenAdmin):
    """API tokens, never listed in full: the key is shown once, right after it is issued."""

    list_display = ("masked_key", "user", "created")
    fields = ("user",)

    @admin.display(description=_("key"))
    def masked_key(self, token: TokenProxy) -> str:
        return f"{token.key[:4]}…"

    def save_model(self, request: HttpRequest, obj: TokenProxy, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            self.message_user(
                request,
                _("New API token for %(user)s: %(key)s (shown only now)")
                % {"user": obj.user, "key": obj.key},
                messages.WARNING,
            )


for _model in (AccessAttempt, AccessFailureLog, AccessLog):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


class _ReadOnlyLockoutAdmin(CapabilityPermissions):
    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AccessAttempt)
class LockoutAttemptAdmin(_ReadOnlyLockoutAdmin, axes_admin.AccessAttemptAdmin):
    pass


@admin.register(AccessFailureLog)
class LockoutFailureLogAdmin(_ReadOnlyLockoutAdmin, axes_admin.AccessFailureLogAdmin):
    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AccessLog)
class SignInLogAdmin(_ReadOnlyLockoutAdmin, axes_admin.AccessLogAdmin):
    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
