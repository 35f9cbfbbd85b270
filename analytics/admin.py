"""Statistics in the admin: CSAT answers (read-only) and export jobs."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from accounts.access import Capability
from accounts.admin_base import CapabilityModelAdmin
from analytics.models import CsatResponse, ExportJob


@admin.register(CsatResponse)
class CsatResponseAdmin(CapabilityModelAdmin):
    # Customers' comments: for roles that see statistics, read-only, never deleted.
    view_capability = Capability.VIEW_STATISTICS
    list_display = (
        "conversation",
        "rating",
        "channel",
        "operator_id",
        "requested_at",
        "answered_at",
    )
    list_filter = ("rating", "channel")
    search_fields = ("comment",)
    readonly_fields = [f.name for f in CsatResponse._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # answers and the export audit stay

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ExportJob)
class ExportJobAdmin(CapabilityModelAdmin):
    view_capability = Capability.EXPORT_REPORTS
    list_display = ("dataset", "format", "user", "status", "rows_done", "created_at")
    list_filter = ("status", "dataset", "format")
    readonly_fields = [f.name for f in ExportJob._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # answers and the export audit stay
