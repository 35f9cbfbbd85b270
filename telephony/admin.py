"""Admin: PBXs (the AMI secret is write-only), routing rules, and calls read-only with their
raw AMI events."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from accounts.access import Capability
from accounts.admin_base import CapabilityModelAdmin, CapabilityPermissions, ReadOnlyAdmin
from telephony import services
from telephony.models import Call, CallEvent, CallOffer, Pbx, RouteRule


class PbxForm(forms.ModelForm):
    new_secret = forms.CharField(
        label=_("AMI secret"),
        required=False,
        strip=False,
        max_length=255,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=_("The `secret` of manager.conf. Leave empty to keep the current one."),
    )

    class Meta:
        model = Pbx
        fields = (
            "name",
            "host",
            "port",
            "username",
            "is_active",
            "originate_context",
            "dial_prefix",
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not self.instance.pk and not data.get("new_secret"):
            self.add_error("new_secret", _("A new PBX needs its AMI secret."))
        return data


@admin.register(Pbx)
class PbxAdmin(CapabilityModelAdmin):
    form = PbxForm
    view_capability = Capability.USE_ADMIN
    list_display = ("name", "host", "port", "username", "is_active", "masked_secret")
    fields = (
        "name",
        "host",
        "port",
        "username",
        "masked_secret",
        "new_secret",
        "is_active",
        "originate_context",
        "dial_prefix",
    )
    readonly_fields = ("masked_secret",)

    @admin.display(description=_("current secret"))
    def masked_secret(self, pbx: Pbx) -> str:
        # Never shown back: only its last two characters, to tell two apart.
        return f"…{pbx.secret[-2:]}" if pbx.pk and pbx.secret else "—"

    def save_model(self, request: HttpRequest, obj: Pbx, form: Any, change: bool) -> None:
        services.pbx_save(pbx=obj, actor=request.user, new_secret=form.cleaned_data["new_secret"])

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # calls refer to it: deactivate instead


@admin.register(RouteRule)
class RouteRuleAdmin(CapabilityModelAdmin):
    view_capability = Capability.USE_ADMIN
    list_display = ("position", "kind", "tier", "value", "queue", "is_active")
    list_display_links = ("kind",)
    list_editable = ("position", "queue", "is_active")
    list_filter = ("kind", "is_active")

    def save_model(self, request: HttpRequest, obj: RouteRule, form: Any, change: bool) -> None:
        services.route_rule_save(rule=obj, actor=request.user)

    def delete_model(self, request: HttpRequest, obj: RouteRule) -> None:
        services.route_rule_delete(rule=obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for rule in queryset:
            services.route_rule_delete(rule=rule, actor=request.user)


class _ReadOnlyInline(CapabilityPermissions, admin.TabularInline):
    view_capability = Capability.USE_ADMIN
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CallOfferInline(_ReadOnlyInline):
    model = CallOffer
    fields = readonly_fields = ("operator", "offered_at", "outcome", "ring_ms")


class CallEventInline(_ReadOnlyInline):
    model = CallEvent
    fields = readonly_fields = ("received_at", "name", "uniqueid", "fields")


@admin.register(Call)
class CallAdmin(ReadOnlyAdmin):
    """Calls are the PBX's record: read-only here, built by the listener. They carry callers'
    numbers and raw AMI fields: only for roles that may see customers' personal data."""

    view_capability = Capability.VIEW_CUSTOMER_PII
    list_display = (
        "started_at",
        "direction",
        "caller",
        "customer",
        "queue",
        "operator",
        "state",
        "hold_seconds",
        "talk_seconds",
    )
    list_filter = ("state", "direction", "queue", "pbx")
    search_fields = ("caller", "linkedid", "uniqueid")
    date_hierarchy = "started_at"
    list_select_related = ("customer", "operator")
    inlines = [CallOfferInline, CallEventInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in Call._meta.fields]
