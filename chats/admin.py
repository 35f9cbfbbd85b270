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
from accounts.admin_base import CapabilityModelAdmin, NoAddOrDeleteAdmin
from chats.models import Conversation, Inbox, ReplyTemplate
from chats.selectors import actionable_conversations, visible_conversations
from chats.services import conversations as conversation_services
from chats.services import inboxes as inbox_services
from chats.services import templates as template_services


class InboxForm(forms.ModelForm):
    """The bot token is write-only: typed once, never rendered back (an empty field keeps
    the stored one)."""

    new_bot_token = forms.CharField(
        label=_("Telegram bot token"),
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=_("From @BotFather. Leave empty to keep the current token."),
    )
    push_url = forms.URLField(
        label=_("push webhook URL"),
        required=False,
        max_length=500,
        assume_scheme="https",
        help_text=Inbox._meta.get_field("push_url").help_text,
    )

    class Meta:
        model = Inbox
        fields = (
            "name",
            "kind",
            "default_team",
            "is_active",
            "allowed_origins",
            "push_url",
            "settings",
        )

    def clean_new_bot_token(self) -> str:
        token = self.cleaned_data.get("new_bot_token", "")
        if token and (":" not in token or len(token) > 200):
            raise ValidationError(_("This does not look like a bot token (123456:ABC…)."))
        return token

    def save(self, commit: bool = True) -> Inbox:
        inbox = super().save(commit=False)
        if self.cleaned_data.get("new_bot_token"):
            inbox.bot_token = self.cleaned_data["new_bot_token"]
        return inbox


@admin.register(Inbox)
class InboxAdmin(CapabilityModelAdmin):
    form = InboxForm
    view_capability = Capability.USE_ADMIN
    list_display = ("name", "kind", "default_team", "is_active", "key")
    list_filter = ("kind", "is_active")
    search_fields = ("name", "key")
    fields = (
        "name",
        "kind",
        "default_team",
        "is_active",
        "masked_bot_token",
        "new_bot_token",
        "allowed_origins",
        "push_url",
        "settings",
        "key",
        "masked_secret",
    )
    readonly_fields = ("key", "masked_secret", "masked_bot_token")
    actions = ["rotate_secret", "register_telegram_webhook"]

    @admin.display(description=_("secret"))
    def masked_secret(self, inbox: Inbox) -> str:
        # Shown back only as its last characters: enough to tell two apart, never to use.
        return f"…{inbox.secret[-4:]}" if inbox.pk else "—"

    @admin.display(description=_("current bot token"))
    def masked_bot_token(self, inbox: Inbox) -> str:
        return f"…{inbox.bot_token[-4:]}" if inbox.bot_token else "—"

    @admin.action(
        description=_("Register the Telegram webhook (setWebhook)"), permissions=["change"]
    )
    def register_telegram_webhook(self, request: HttpRequest, queryset: QuerySet[Inbox]) -> None:
        from chats.channels.telegram.delivery import WebhookNotSet, telegram_webhook_register

        for inbox in queryset:
            try:
                url = telegram_webhook_register(inbox=inbox)
            except WebhookNotSet as problem:
                self.message_user(request, f"{inbox.name}: {problem}", messages.ERROR)
            else:
                self.message_user(
                    request,
                    _("%(name)s: Telegram now posts updates to %(url)s.")
                    % {"name": inbox.name, "url": url},
                )

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
            try:
                secret = inbox_services.inbox_rotate_secret(inbox=inbox, actor=request.user)
            except ValidationError as problem:
                self.message_user(
                    request, f"{inbox.name}: {' '.join(problem.messages)}", messages.ERROR
                )
                continue
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
class ConversationAdmin(NoAddOrDeleteAdmin):
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

    @admin.action(description=_("Restore selected deleted conversations"), permissions=["change"])
    def restore_selected(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> None:
        done = 0
        # The list is what the user sees; an action takes only what they may act on.
        actionable = actionable_conversations(request.user, include_deleted=True)
        for conversation in queryset.filter(
            deleted_at__isnull=False, pk__in=actionable.values("pk")
        ):
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
