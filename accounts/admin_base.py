"""The admin gated by role capabilities (the one access gate) instead of is_staff and
Django's model permissions: the site every app registers with, and the permissions every
app's admins and inlines use."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from accounts.access import Capability, has_capability
from smartdesk.core.admin_site import SmartdeskAdminSite, SmartdeskModelAdmin


class CapabilityAdminSite(SmartdeskAdminSite):
    def has_permission(self, request: HttpRequest) -> bool:
        return has_capability(request.user, Capability.USE_ADMIN)


class CapabilityPermissions:
    """Admin permissions from role capabilities (the one access gate), not Django's perms.

    Mixed into ModelAdmins and inlines alike: an inline left on Django's model permissions
    would silently drop out of the form for a super-admin without them.
    """

    view_capability: Capability = Capability.MANAGE_ACCESS
    change_capability: Capability = Capability.MANAGE_ACCESS

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return has_capability(request.user, self.view_capability) or self.has_change_permission(
            request, obj
        )

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return has_capability(request.user, self.change_capability)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return has_capability(request.user, self.change_capability)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return has_capability(request.user, self.change_capability)


class CapabilityModelAdmin(CapabilityPermissions, SmartdeskModelAdmin):
    pass


class ReadOnlyPermissions:
    """A record written only by services (an audit trail, a call, what the back office
    sent): looked at in the admin, never added, changed or deleted there. Mixed in before
    `CapabilityPermissions`, which still decides who may look."""

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyAdmin(ReadOnlyPermissions, CapabilityModelAdmin):
    pass


class NoAddOrDeleteAdmin(CapabilityModelAdmin):
    """Rows that only services make and that are kept for good (a log, a conversation): the
    admin looks at them and acts on them through its actions, but never adds or deletes one,
    neither one by one nor with the bulk delete action."""

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions
