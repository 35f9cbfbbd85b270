"""Admin: merge two customers (a confirmation page choosing which record to keep), and the
merge log with an undo. Every change goes through `customers.identities`. The merge action is
offered by `customers.admin.CustomerAdmin`."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.access import Capability
from accounts.admin_base import NoAddOrDeleteAdmin
from customers.identities import customer_merge, customer_unmerge
from customers.models import Customer, CustomerMerge


@admin.action(description=_("Merge the two selected customers…"), permissions=["change"])
def merge_customers(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Customer]
) -> HttpResponse | None:
    customers = list(queryset.order_by("pk")[:3])
    if len(customers) != 2:
        modeladmin.message_user(
            request, _("Select exactly two customers to merge."), messages.WARNING
        )
        return None
    if request.POST.get("confirm") == "yes":
        keep = request.POST.get("keep")
        target = next((c for c in customers if str(c.pk) == keep), None)
        if target is None:
            modeladmin.message_user(request, _("Choose the customer to keep."), messages.ERROR)
        else:
            source = next(c for c in customers if c.pk != target.pk)
            try:
                customer_merge(
                    source=source,
                    target=target,
                    actor=request.user,
                    reason=str(request.POST.get("reason", ""))[:200],
                )
            except ValidationError as refusal:
                modeladmin.message_user(request, " ".join(refusal.messages), messages.ERROR)
            else:
                modeladmin.message_user(
                    request,
                    _("%(source)s was merged into %(target)s. The merge log can undo it.")
                    % {"source": source, "target": target},
                )
            return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": _("Merge two customers"),
        "customers": [(c, c.identities.all(), c.conversations.count()) for c in customers],
        "selected": [c.pk for c in customers],
        "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        "opts": Customer._meta,
    }
    return TemplateResponse(request, "admin/customers/merge_confirm.html", context)


@admin.register(CustomerMerge)
class CustomerMergeAdmin(NoAddOrDeleteAdmin):
    view_capability = Capability.VIEW_CUSTOMER_PII
    change_capability = Capability.VIEW_CUSTOMER_PII
    list_display = ("at", "source", "target", "actor", "reason", "undone_at")
    list_select_related = ("source", "target", "actor")
    readonly_fields = [
        "source",
        "target",
        "moved",
        "fields",
        "reason",
        "actor",
        "at",
        "undone_at",
        "undone_by",
    ]
    actions = ["undo_merges"]

    @admin.action(description=_("Undo the selected merges"), permissions=["change"])
    def undo_merges(self, request: HttpRequest, queryset: QuerySet[CustomerMerge]) -> None:
        done = 0
        for merge in queryset.filter(undone_at__isnull=True):
            try:
                customer_unmerge(merge=merge, actor=request.user)
                done += 1
            except ValidationError as refusal:
                self.message_user(request, " ".join(refusal.messages), messages.ERROR)
        self.message_user(
            request,
            ngettext("%(n)d merge undone.", "%(n)d merges undone.", done) % {"n": done},
        )
