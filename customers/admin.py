from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from accounts.access import Capability, has_capability
from customers.models import Customer, Identity
from smartdesk.admin_site import CapabilityModelAdmin, CapabilityPermissions


class IdentityInline(CapabilityPermissions, admin.TabularInline):
    """Read-only: identities come from the channels, normalised by customers.services; a
    hand-typed one would bypass that and split the customer in two."""

    model = Identity
    extra = 0
    view_capability = Capability.VIEW_CUSTOMER_PII
    change_capability = Capability.VIEW_CUSTOMER_PII
    fields = ("kind", "value", "verified", "unreachable_at", "created_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Customer)
class CustomerAdmin(CapabilityModelAdmin):
    view_capability = Capability.USE_ADMIN
    change_capability = Capability.VIEW_CUSTOMER_PII
    list_display = ("id", "first_name", "last_name", "language", "created_at")
    search_fields = ("first_name", "last_name")
    inlines = [IdentityInline]

    def get_search_fields(self, request: HttpRequest) -> tuple[str, ...]:
        # Finding a customer by phone or e-mail tells whose it is: personal data.
        if has_capability(request.user, Capability.VIEW_CUSTOMER_PII):
            return (*self.search_fields, "identities__value")
        return self.search_fields

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # conversations refer to customers; merging comes with #5
