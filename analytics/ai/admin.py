"""The classifier in the admin: topics (defined here), classifications and corrections
(read-only), trained models (read-only; activate one)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from accounts.access import Capability
from accounts.admin_base import CapabilityModelAdmin
from analytics.ai.models import Classification, ClassificationCorrection, ModelArtifact, Topic


@admin.register(Topic)
class TopicAdmin(CapabilityModelAdmin):
    view_capability = Capability.USE_ADMIN
    list_display = ("name", "slug", "is_active", "created_at")
    list_filter = ("is_active",)
    search_fields = ("name", "slug", "description")


class _ReadOnly(CapabilityModelAdmin):
    view_capability = Capability.VIEW_STATISTICS

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Classification)
class ClassificationAdmin(_ReadOnly):
    list_display = (
        "conversation",
        "label",
        "confidence",
        "unsure",
        "corrected_label",
        "corrected_by",
        "model_version",
        "classified_at",
    )
    list_filter = ("label", "corrected_label", "unsure", "stage")
    readonly_fields = [f.name for f in Classification._meta.fields]


@admin.register(ClassificationCorrection)
class ClassificationCorrectionAdmin(_ReadOnly):
    list_display = ("conversation", "before_label", "label", "actor", "at")
    list_filter = ("label",)
    readonly_fields = [f.name for f in ClassificationCorrection._meta.fields]


@admin.register(ModelArtifact)
class ModelArtifactAdmin(_ReadOnly):
    list_display = ("version", "backend", "examples", "corrections", "is_active", "created_at")
    exclude = ("data",)
    readonly_fields = ("version", "backend", "examples", "corrections", "metrics", "created_at")
    actions = ("activate",)

    @admin.action(description=_("Use this model"))
    def activate(self, request: HttpRequest, queryset: Any) -> None:
        chosen = queryset.first()
        if chosen is None:
            return
        ModelArtifact.objects.filter(is_active=True).update(is_active=False)
        ModelArtifact.objects.filter(pk=chosen.pk).update(is_active=True)
