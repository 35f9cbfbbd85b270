"""Roles: their capabilities, scope, distribution and goodwill settings; archive, restore
and delete, each through `accounts.services`. Roles replace Django's groups."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts import services
from accounts.access import Capability, role_field
from accounts.admin.audit import _audit_table
from accounts.admin_base import CapabilityModelAdmin
from accounts.models import AccessAuditEntry, Role, User

admin.site.unregister(Group)


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
