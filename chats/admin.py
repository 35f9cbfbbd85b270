"""Admin for inboxes, reply templates and (read-only, through the gate) conversations."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.access import Capability
from chats.models import Conversation, Inbox, ReplyTemplate
from chats.selectors import visible_conversations
from chats.services import conversations as conversation_services
from chats.services import inboxes as inbox_services
from chats.services import templates as template_services
from smartdesk.admin_site import CapabilityModelAdmin


@admin.register(Inbox)
class InboxAdmin(CapabilityModelAdmin):
    view_capability = Capability.USE_ADMIN
    list_display = ("name", "kind", "default_team", "is_active", "key")
    list_filter = ("kind", "is_active")
    search_fields = ("name", "key")
    fields = ("name", "kind", "default_team", "is_active", "settings", "key", "masked_secret")
    readonly_fields = ("key", "masked_secret")
    actions = ["rotate_secret"]

    @admin.display(description=_("secret"))
    def masked_secret(self, inbox: Inbox) -> str:
        # Shown back only as its last characters: enough to tell two apart, never to use.
        return f"…{inbox.secret[-4:]}" if inbox.pk else "—"

    def save_model(self, request: HttpRequest, obj: Inbox, form: Any, change: bool) -> None:
        inbox_services.inbox_save(inbox=obj, actor=request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # conversations refer to it: deactivate instead

    # permissions=["change"]: Django offers actions to anyone who may view the list otherwise.
    @admin.action(
        description=_("Issue a new secret (the old one stops working)"), permissions=["change"]
    )
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[Inbox]) -> None:
        for inbox in queryset:
            secret = inbox_services.inbox_rotate_secret(inbox=inbox, actor=request.user)
            # The one time the full secret is shown: right after it is issued.
            self.message_user(
                request,
                _("New secret for %(name)s: %(secret)s") % {"name": inbox.name, "secret": secret},
                messages.WARNING,
            )


class ReplyTemplateForm(forms.ModelForm):
    class Meta:
        model = ReplyTemplate
        fields = ("name", "shortcut", "body", "team", "language", "is_active")

    def clean_body(self) -> str:
        body = self.cleaned_data["body"]
        template_services.template_check(body)
        return body


@admin.register(ReplyTemplate)
class ReplyTemplateAdmin(CapabilityModelAdmin):
    form = ReplyTemplateForm
    view_capability = Capability.MANAGE_TEMPLATES
    change_capability = Capability.MANAGE_TEMPLATES
    list_display = ("shortcut", "name", "team", "language", "is_active", "updated_at")
    list_filter = ("team", "language", "is_active")
    search_fields = ("shortcut", "name", "body")

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # deactivate templates; one delete at a time
        return actions

    def save_model(self, request: HttpRequest, obj: ReplyTemplate, form: Any, change: bool) -> None:
        template_services.reply_template_save(template=obj, actor=request.user)


@admin.register(Conversation)
class ConversationAdmin(CapabilityModelAdmin):
    """A read-only view for admins; deleted conversations are restored from here or the inbox."""

    view_capability = Capability.USE_ADMIN
    change_capability = Capability.RESTORE_CONVERSATIONS
    list_display = (
        "id",
        "customer",
        "inbox",
        "team",
        "assignee",
        "status",
        "priority",
        "deleted_at",
    )
    list_filter = (
        "status",
        "priority",
        "inbox__kind",
        "team",
        ("deleted_at", admin.EmptyFieldListFilter),
    )
    list_select_related = ("customer", "inbox", "team", "assignee")
    search_fields = ("customer__first_name", "customer__last_name", "topic")
    actions = ["restore_selected"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Conversation]:
        return visible_conversations(request.user, include_deleted=True)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in Conversation._meta.fields]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.action(description=_("Restore selected deleted conversations"), permissions=["change"])
    def restore_selected(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> None:
        done = 0
        for conversation in queryset.filter(deleted_at__isnull=False):
            try:
                conversation_services.conversation_restore(
                    conversation=conversation, actor=request.user
                )
                done += 1
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)
        self.message_user(
            request,
            ngettext("%(n)d conversation restored.", "%(n)d conversations restored.", done)
            % {"n": done},
        )


from chats import admin_routing  # noqa: E402, F401  (registers the routing admin)
