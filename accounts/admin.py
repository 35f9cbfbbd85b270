"""The super-admin's role and user editor. Every save goes through `accounts.services`."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from rest_framework.authtoken.admin import TokenAdmin
from rest_framework.authtoken.models import TokenProxy

from accounts import services
from accounts.access import Capability, role_field
from accounts.models import AccessAuditEntry, OperatorProfile, Role, Skill, Team, User
from smartdesk.admin_site import CapabilityModelAdmin, CapabilityPermissions


def _audit_table(target_type: str, target_id: int | None) -> str:
    if target_id is None:
        return "—"
    entries = AccessAuditEntry.objects.filter(target_type=target_type, target_id=target_id)[:50]
    if not entries:
        return str(_("No changes recorded yet."))
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td><pre>{}</pre></td></tr>",
        (
            (
                f"{e.at:%Y-%m-%d %H:%M:%S}",
                e.actor_display,
                e.get_action_display(),
                _changes(e.before, e.after),
            )
            for e in entries
        ),
    )
    return format_html(
        "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead>"
        "<tbody>{}</tbody></table>",
        _("When"),
        _("Who"),
        _("Action"),
        _("Before → after"),
        rows,
    )


def _changes(before: dict[str, Any] | None, after: dict[str, Any] | None) -> str:
    """Only the keys that changed, one per line: `key: old → new`."""
    before, after = before or {}, after or {}
    lines = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old != new:
            old_text = json.dumps(old, ensure_ascii=False)
            lines.append(f"{key}: {old_text} → {json.dumps(new, ensure_ascii=False)}")
    return "\n".join(lines)


# --- roles -------------------------------------------------------------------------------


@admin.register(Role)
class RoleAdmin(CapabilityModelAdmin):
    list_display = ("name", "scope", "capability_summary", "member_count", "archived_at")
    list_filter = ("scope", ("archived_at", admin.EmptyFieldListFilter))
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ("archived_at", "created_at", "updated_at", "audit_trail")
    actions = ["archive_selected", "restore_selected"]
    fieldsets = (
        (None, {"fields": ("name", "slug", "description", "scope")}),
        (_("Capabilities"), {"fields": tuple(role_field(c) for c in Capability)}),
        (_("Distribution"), {"fields": ("receives_auto_assignment",)}),
        (
            _("Goodwill"),
            {
                "fields": (
                    "goodwill_points_limit",
                    "goodwill_period_points_limit",
                    "goodwill_period_days",
                )
            },
        ),
        (_("History"), {"fields": ("archived_at", "created_at", "updated_at", "audit_trail")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Role]:
        return super().get_queryset(request).annotate(_members=Count("profiles"))

    @admin.display(description=_("members"), ordering="_members")
    def member_count(self, role: Role) -> int:
        return role._members  # type: ignore[attr-defined]

    @admin.display(description=_("capabilities"))
    def capability_summary(self, role: Role) -> str:
        return ", ".join(str(c.label) for c in Capability if getattr(role, role_field(c))) or "—"

    @admin.display(description=_("audit trail"))
    def audit_trail(self, role: Role) -> str:
        return _audit_table(AccessAuditEntry.Target.ROLE, role.pk)

    def get_readonly_fields(self, request: HttpRequest, obj: Role | None = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.is_builtin:
            fields.append("slug")
        return fields

    def get_prepopulated_fields(self, request: HttpRequest, obj: Role | None = None) -> Any:
        return {} if obj is not None and obj.is_builtin else self.prepopulated_fields

    def save_model(self, request: HttpRequest, obj: Role, form: Any, change: bool) -> None:
        services.role_save(role=obj, actor=request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Role | None = None) -> bool:
        if obj is not None and services.role_deletion_blocker(obj):
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        # Bulk delete would skip the checks and the audit; delete one role at a time.
        actions.pop("delete_selected", None)
        return actions

    def delete_model(self, request: HttpRequest, obj: Role) -> None:
        services.role_delete(role=obj, actor=request.user)

    @admin.action(description=_("Archive selected roles"), permissions=["change"])
    def archive_selected(self, request: HttpRequest, queryset: QuerySet[Role]) -> None:
        """Archive, and warn about each archived role still held by someone, naming them:
        archiving takes nothing away from its holders (they keep the role until given
        another), so it goes ahead, and the super-admin learns whom to move."""
        roles = list(queryset)
        done = self._apply(request, roles, services.role_archive)
        if done:
            self.message_user(
                request,
                ngettext("%(n)d role archived.", "%(n)d roles archived.", done) % {"n": done},
                messages.SUCCESS,
            )
        archived = Role.objects.filter(pk__in=[r.pk for r in roles], archived_at__isnull=False)
        for role in archived.order_by("name"):
            self._warn_holders(request, role)

    # At most this many holders are named in the warning; the rest are counted.
    HOLDERS_NAMED = 20

    def _warn_holders(self, request: HttpRequest, role: Role) -> None:
        holders = list(
            User.objects.filter(profile__role=role)
            .order_by("username")
            .values_list("username", flat=True)[: self.HOLDERS_NAMED + 1]
        )
        if not holders:
            return
        total = (
            len(holders)
            if len(holders) <= self.HOLDERS_NAMED
            else User.objects.filter(profile__role=role).count()
        )
        names = ", ".join(holders[: self.HOLDERS_NAMED])
        if total > self.HOLDERS_NAMED:
            names = _("%(names)s and %(more)d more") % {
                "names": names,
                "more": total - self.HOLDERS_NAMED,
            }
        self.message_user(
            request,
            ngettext(
                "The role “%(role)s” is archived but still held by %(n)d user: %(names)s. "
                "They keep it until you give them another role.",
                "The role “%(role)s” is archived but still held by %(n)d users: %(names)s. "
                "They keep it until you give them another role.",
                total,
            )
            % {"role": role.display_name, "n": total, "names": names},
            messages.WARNING,
        )

    @admin.action(description=_("Restore selected roles from the archive"), permissions=["change"])
    def restore_selected(self, request: HttpRequest, queryset: QuerySet[Role]) -> None:
        done = self._apply(request, queryset, services.role_restore)
        if done:
            self.message_user(
                request,
                ngettext("%(n)d role restored.", "%(n)d roles restored.", done) % {"n": done},
                messages.SUCCESS,
            )

    def _apply(self, request: HttpRequest, queryset: Iterable[Role], service: Any) -> int:
        done = 0
        for role in queryset:
            try:
                service(role=role, actor=request.user)
                done += 1
            except ValidationError as exc:
                self.message_user(
                    request, f"{role.display_name}: {' '.join(exc.messages)}", messages.ERROR
                )
        return done


# --- users -------------------------------------------------------------------------------


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


# --- teams, skills, audit -----------------------------------------------------------------


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


@admin.register(AccessAuditEntry)
class AccessAuditEntryAdmin(CapabilityModelAdmin):
    list_display = ("at", "who", "action", "target_type", "target_repr", "changes")
    list_filter = ("action", "target_type")
    search_fields = ("actor_repr", "target_repr")
    date_hierarchy = "at"

    @admin.display(description=_("who"), ordering="actor_repr")
    def who(self, entry: AccessAuditEntry) -> str:
        return entry.actor_display

    @admin.display(description=_("before → after"))
    def changes(self, entry: AccessAuditEntry) -> str:
        return format_html("<pre>{}</pre>", _changes(entry.before, entry.after))

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# Roles replace Django's groups; API tokens are access too.
admin.site.unregister(Group)
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


# --- sign-in lockouts (django-axes, issue 12) ---------------------------------------------
# axes registers its tables with Django's model permissions; here they follow the role
# capabilities like the rest of access. Deleting an attempt unlocks that sign-in.
from axes import admin as axes_admin  # noqa: E402  (registers axes' admins first)
from axes.models import AccessAttempt, AccessFailureLog, AccessLog  # noqa: E402

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
