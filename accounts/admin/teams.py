"""Teams (name and distribution settings, renamed rather than deleted) and skills."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from accounts import services
from accounts.access import Capability
from accounts.admin_base import CapabilityModelAdmin
from accounts.models import Skill, Team


@admin.register(Team)
class TeamAdmin(CapabilityModelAdmin):
    view_capability = Capability.USE_ADMIN
    list_display = (
        "name",
        "member_count",
        "auto_assign",
        "default_capacity",
        "reassign_after_minutes",
        "created_at",
    )
    list_filter = ("auto_assign",)
    search_fields = ("name",)
    fieldsets = (
        (None, {"fields": ("name",)}),
        (
            _("Distribution"),
            {
                "fields": ("auto_assign", "default_capacity", "reassign_after_minutes"),
                "description": _(
                    "Required skills per topic are set under Conversations › Topic rules."
                ),
            },
        ),
    )

    def save_model(self, request: HttpRequest, obj: Team, form: Any, change: bool) -> None:
        services.team_save(team=obj, actor=request.user)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Team]:
        return super().get_queryset(request).annotate(_members=Count("members"))

    @admin.display(description=_("members"), ordering="_members")
    def member_count(self, team: Team) -> int:
        return team._members  # type: ignore[attr-defined]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Deleting a team would drop memberships (an unaudited access change), its
        # conversations' team and its templates. Teams are renamed, not deleted.
        return False


@admin.register(Skill)
class SkillAdmin(CapabilityModelAdmin):
    view_capability = Capability.USE_ADMIN
    search_fields = ("name",)
