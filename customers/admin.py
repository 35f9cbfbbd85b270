from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from accounts.access import Capability, has_capability
from accounts.admin_base import (
    CapabilityModelAdmin,
    CapabilityPermissions,
    ReadOnlyAdmin,
    ReadOnlyPermissions,
)
from customers import loyalty
from customers.admin_merge import merge_customers
from customers.auth import integration_client_create
from customers.languages import language_validate
from customers.models import (
    Customer,
    CustomerTag,
    GoodwillRequest,
    Identity,
    IntegrationClient,
    LanguageSource,
    LoyaltyAccount,
    LoyaltyTier,
    LoyaltyTransaction,
    Order,
    OrderItem,
    Product,
    PromoParticipation,
    TierChange,
)


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


class CustomerTagInline(CapabilityPermissions, admin.TabularInline):
    """Allergies and preferences: the back office sends them; admins correct them here."""

    model = CustomerTag
    extra = 0
    view_capability = Capability.USE_ADMIN
    change_capability = Capability.VIEW_CUSTOMER_PII
    fields = ("kind", "value")


class PromoParticipationInline(CapabilityPermissions, admin.TabularInline):
    model = PromoParticipation
    extra = 0
    view_capability = Capability.USE_ADMIN
    change_capability = Capability.VIEW_CUSTOMER_PII
    fields = ("code", "name", "status", "joined_at", "ends_at")


class CustomerForm(forms.ModelForm):
    # Longer than the stored code: "en-GB" is accepted and stored as "en".
    language = forms.CharField(
        label=_lazy("language"),
        max_length=35,
        required=False,
        help_text=_lazy("A language code such as “ru” or “en-GB”; stored without the region."),
    )

    class Meta:
        model = Customer
        fields = ("external_id", "first_name", "last_name", "language", "birthday", "notes")

    def clean_language(self) -> str:
        try:
            return language_validate(self.cleaned_data.get("language", ""))
        except ValueError as problem:
            raise forms.ValidationError(str(problem)) from None


@admin.register(Customer)
class CustomerAdmin(CapabilityModelAdmin):
    view_capability = Capability.USE_ADMIN
    change_capability = Capability.VIEW_CUSTOMER_PII
    form = CustomerForm
    list_display = ("id", "first_name", "last_name", "external_id", "language", "created_at")
    search_fields = ("first_name", "last_name", "external_id")
    fields = (
        "external_id",
        "first_name",
        "last_name",
        "language",
        "language_source",
        "birthday",
        "notes",
    )
    readonly_fields = ("language_source",)
    inlines = [IdentityInline, CustomerTagInline, PromoParticipationInline]
    actions = [merge_customers]

    def save_model(self, request: HttpRequest, obj: Customer, form: Any, change: bool) -> None:
        if "language" in form.changed_data:
            # Set by a person: outranks what a messenger or a browser says (customers.languages).
            # Cleared, it is unknown again: anything may fill it.
            obj.language_source = LanguageSource.EXPLICIT if obj.language else LanguageSource.HINT
        super().save_model(request, obj, form, change)

    def get_search_fields(self, request: HttpRequest) -> tuple[str, ...]:
        # Finding a customer by phone or e-mail tells whose it is: personal data.
        if has_capability(request.user, Capability.VIEW_CUSTOMER_PII):
            return (*self.search_fields, "identities__value")
        return self.search_fields

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # conversations refer to customers: merge them instead


# --- orders and products ------------------------------------------------------------------------


class BackOfficeAdmin(ReadOnlyAdmin):
    """What the back office owns: looked at here, changed only through the API."""

    view_capability = Capability.USE_ADMIN
    change_capability = Capability.USE_ADMIN


class OrderItemInline(ReadOnlyPermissions, CapabilityPermissions, admin.TabularInline):
    model = OrderItem
    extra = 0
    view_capability = Capability.USE_ADMIN
    change_capability = Capability.MANAGE_ACCESS  # never: orders come from the back office
    fields = ("sku", "name", "quantity", "price", "modifiers")
    readonly_fields = fields


@admin.register(Order)
class OrderAdmin(BackOfficeAdmin):
    list_display = ("external_id", "customer", "placed_at", "status", "total", "currency")
    list_filter = ("status", "channel")
    search_fields = ("external_id", "customer__external_id")
    list_select_related = ("customer",)
    inlines = [OrderItemInline]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = [
            "external_id",
            "customer",
            "placed_at",
            "status",
            "status_changed_at",
            "total",
            "currency",
            "channel",
        ]
        # A delivery address is personal data.
        if has_capability(request.user, Capability.VIEW_CUSTOMER_PII):
            fields.append("address")
        return fields


@admin.register(Product)
class ProductAdmin(CapabilityModelAdmin):
    """Declared allergens decide which offers a customer never gets: admins may correct them."""

    view_capability = Capability.USE_ADMIN
    change_capability = Capability.USE_ADMIN
    list_display = ("sku", "name", "allergens")
    search_fields = ("sku", "name")


# --- loyalty ------------------------------------------------------------------------------------


@admin.register(LoyaltyTier)
class LoyaltyTierAdmin(CapabilityModelAdmin):
    view_capability = Capability.USE_ADMIN
    change_capability = Capability.ADJUST_LOYALTY
    list_display = ("name", "threshold", "accrual_percent", "priority")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # tier changes refer to it; rename or re-threshold instead


class LedgerInline(ReadOnlyPermissions, CapabilityPermissions, admin.TabularInline):
    """Adjustments go through the API and the service, never as a bare row."""

    model = LoyaltyTransaction
    extra = 0
    view_capability = Capability.USE_ADMIN
    change_capability = Capability.MANAGE_ACCESS
    fields = (
        "created_at",
        "kind",
        "points",
        "spend",
        "order",
        "reason",
        "actor",
        "approved_by",
        "expires_at",
    )
    readonly_fields = fields
    ordering = ("-created_at", "-pk")


class TierChangeInline(LedgerInline):
    model = TierChange
    fields = ("at", "from_tier", "to_tier", "spend")
    readonly_fields = fields
    ordering = ("-at", "-pk")


@admin.register(LoyaltyAccount)
class LoyaltyAccountAdmin(BackOfficeAdmin):
    list_display = ("customer", "tier", "tier_since")
    list_select_related = ("customer", "tier")
    search_fields = ("customer__external_id", "customer__first_name", "customer__last_name")
    fields = ("customer", "tier", "tier_since")
    inlines = [LedgerInline, TierChangeInline]


@admin.register(GoodwillRequest)
class GoodwillRequestAdmin(BackOfficeAdmin):
    list_display = ("account", "points", "reason", "requested_by", "status", "created_at")
    list_filter = ("status",)
    list_select_related = ("account__customer", "requested_by")
    fields = (
        "account",
        "points",
        "reason",
        "conversation_id",
        "requested_by",
        "status",
        "decided_by",
        "decided_at",
        "transaction",
    )
    actions = ["approve", "reject"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The actions below need it; the form itself shows read-only fields.
        return has_capability(request.user, Capability.ADJUST_LOYALTY)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return self.fields

    def _decide(self, request: HttpRequest, queryset: Any, approve: bool) -> None:
        # The admin site is not per conversation: deciding here is for roles that may change
        # any customer's loyalty (the API decides through the conversation gate).
        if not has_capability(request.user, Capability.ACT_ON_ALL_CUSTOMERS):
            self.message_user(
                request,
                _("Your role may decide goodwill only from the conversations it works on."),
                messages.ERROR,
            )
            return
        done = 0
        for pending in queryset.filter(status=GoodwillRequest.Status.PENDING):
            try:
                loyalty.goodwill_decide(request=pending, approve=approve, actor=request.user)
            except (loyalty.LoyaltyRefused, PermissionDenied) as error:
                self.message_user(request, str(error), messages.ERROR)
            else:
                done += 1
        self.message_user(request, _("%(n)d request(s) decided.") % {"n": done})

    @admin.action(description=_("Approve the selected goodwill requests"))
    def approve(self, request: HttpRequest, queryset: Any) -> None:
        self._decide(request, queryset, True)

    @admin.action(description=_("Reject the selected goodwill requests"))
    def reject(self, request: HttpRequest, queryset: Any) -> None:
        self._decide(request, queryset, False)


# --- back-office clients ---------------------------------------------------------------------


class IntegrationClientForm(forms.ModelForm):
    class Meta:
        model = IntegrationClient
        fields = ("name", "is_active")


@admin.register(IntegrationClient)
class IntegrationClientAdmin(CapabilityModelAdmin):
    """Created through `integration_client_create`: the token is shown once, then only its
    hash is kept. The webhook secret is shown to whoever may manage access."""

    view_capability = Capability.MANAGE_ACCESS
    change_capability = Capability.MANAGE_ACCESS
    form = IntegrationClientForm
    list_display = ("name", "key", "is_active", "last_used_at", "created_at")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("key", "webhook_secret", "last_used_at") if obj else ()

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        created = integration_client_create(name=obj.name)
        obj.pk = created.client.pk
        obj.key = created.client.key
        self.message_user(
            request,
            _("Token for %(name)s (shown only now): %(token)s")
            % {"name": obj.name, "token": created.token},
            messages.WARNING,
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # deactivate instead: the history names it
