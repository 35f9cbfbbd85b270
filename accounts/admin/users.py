"""Users with their operator profile (role, teams, skills) inline; deactivated, never
deleted. Every save goes through `accounts.services`."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts import services
from accounts.admin.audit import _audit_table
from accounts.admin_base import CapabilityModelAdmin, CapabilityPermissions
from accounts.models import AccessAuditEntry, OperatorProfile, Role, User


class OperatorProfileForm(forms.ModelForm):
    class Meta:
        model = OperatorProfile
        fields = (
            "role",
            "teams",
            "skills",
            "max_concurrent_conversations",
            "phone_extension",
            "language",
            "time_zone",
            "font_scale",
            "high_contrast",
            "reduced_motion",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # An archived role is offered only to those who already hold it.
        self.fields["role"].queryset = Role.objects.filter(
            Q(archived_at__isnull=True) | Q(pk=self.instance.role_id)
        )

    def clean_role(self) -> Role:
        role = self.cleaned_data["role"]
        services.profile_role_check(profile_id=self.instance.pk, role=role)
        return role


class OperatorProfileInline(CapabilityPermissions, admin.StackedInline):
    model = OperatorProfile
    form = OperatorProfileForm
    can_delete = False
    min_num = 1
    max_num = 1
    filter_horizontal = ("teams", "skills")
    fk_name = "user"


@admin.register(User)
class UserAdmin(CapabilityModelAdmin, DjangoUserAdmin):
    inlines = [OperatorProfileInline]
    list_display = ("username", "full_name", "role_name", "team_names", "is_active", "last_login")
    list_filter = ("is_active", "profile__role", "profile__teams")
    list_select_related = ("profile__role",)
    search_fields = ("username", "first_name", "last_name", "email")
    readonly_fields = ("last_login", "date_joined", "audit_trail")
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("Personal info"), {"fields": ("first_name", "last_name", "email")}),
        (_("Status"), {"fields": ("is_active", "last_login", "date_joined")}),
        (_("Access history"), {"fields": ("audit_trail",)}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": (
                    "username",
                    "first_name",
                    "last_name",
                    "email",
                    "password1",
                    "password2",
                ),
            },
        ),
    )
    actions = ["deactivate_selected"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        return super().get_queryset(request).prefetch_related("profile__teams")

    @admin.display(description=_("name"))
    def full_name(self, user: User) -> str:
        return user.get_full_name()

    @admin.display(description=_("role"))
    def role_name(self, user: User) -> str:
        profile = getattr(user, "profile", None)
        return str(profile.role) if profile is not None else "—"

    @admin.display(description=_("teams"))
    def team_names(self, user: User) -> str:
        profile = getattr(user, "profile", None)
        return ", ".join(t.name for t in profile.teams.all()) if profile is not None else "—"

    @admin.display(description=_("audit trail"))
    def audit_trail(self, user: User) -> str:
        return _audit_table(AccessAuditEntry.Target.USER, user.pk)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_delete_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        # People stay in every past figure: deactivate instead of deleting.
        return False

    @admin.action(description=_("Deactivate selected users"), permissions=["change"])
    def deactivate_selected(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        count = 0
        for user in queryset.filter(is_active=True):
            user.is_active = False
            services.user_save(user=user, actor=request.user)
            count += 1
        self.message_user(
            request,
            ngettext("%(n)d user deactivated.", "%(n)d users deactivated.", count) % {"n": count},
        )

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        services.user_save(user=obj, actor=request.user)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if formset.model is not OperatorProfile:
            return super().save_formset(request, form, formset, change)
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for profile_form in formset.forms:
            is_new = profile_form.instance.pk is None
            if not is_new and not profile_form.has_changed():
                continue
            profile = profile_form.instance
            profile.user = formset.instance
            services.operator_profile_save(
                profile=profile,
                teams=profile_form.cleaned_data.get("teams", []),
                skills=profile_form.cleaned_data.get("skills", []),
                actor=request.user,
            )
            if is_new:
                formset.new_objects.append(profile)
            else:
                formset.changed_objects.append((profile, profile_form.changed_data))
        return None
