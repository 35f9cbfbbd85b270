"""Shapes of the chats REST API: what goes out (conversations, messages, templates) and what
comes in (action bodies, new messages, inbound channel posts).

Serializers here only parse and render. Rules about state live in the services; who sees what
lives in the selectors. The only access-dependent detail is which deletion fields are shown,
decided by the view and passed in the context (`can_see_deleted`).
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.api import TeamRefSerializer
from accounts.models import Team, User
from chats.attachment_links import attachment_api_url
from chats.models import Conversation, Inbox, Message
from chats.selectors import customer_identities, effective_status
from chats.snooze import PRESETS
from customers.languages import language_validate
from customers.models import Identity
from customers.services import identity_normalise

Status = Conversation.Status

# The API names priorities instead of exposing the stored integers.
PRIORITY_NAMES: dict[int, str] = {p.value: p.name.lower() for p in Conversation.Priority}
PRIORITY_VALUES: dict[str, int] = {name: value for value, name in PRIORITY_NAMES.items()}


class FarDateTimeField(serializers.DateTimeField):
    """A date-time that may lie past year 9999 in the caller's zone (a snooze stored before
    its horizon existed, seen from UTC+14): given in UTC then, instead of failing."""

    def enforce_timezone(self, value: Any) -> Any:
        try:
            return super().enforce_timezone(value)
        except serializers.ValidationError:
            if value.tzinfo is None:
                raise
            return value.astimezone(UTC)


class PriorityField(serializers.ChoiceField):
    """`normal` / `high` / `urgent` on the wire, `Conversation.Priority` in the database."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=list(PRIORITY_VALUES), **kwargs)

    def to_representation(self, value: Any) -> str:
        return PRIORITY_NAMES.get(value, str(value))

    def to_internal_value(self, data: Any) -> int:
        return PRIORITY_VALUES[super().to_internal_value(data)]


# --- small references ------------------------------------------------------------------


class UserRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(source="*", read_only=True, help_text="Full name or username.")


class InboxRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    kind = serializers.ChoiceField(choices=Inbox.Kind.choices, read_only=True)


class CustomerRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)


class IdentitySerializer(serializers.Serializer):
    # Labelled by value on purpose: four choice sets share the field name `kind`, so the
    # schema names each by its component, and Identity.Kind with its labels is already
    # taken by the inbound customer.
    kind = serializers.ChoiceField(choices=[(k, k) for k in Identity.Kind.values], read_only=True)
    value = serializers.CharField(
        read_only=True, help_text="Masked for roles without the personal-data capability."
    )
    verified = serializers.BooleanField(read_only=True)
    masked = serializers.BooleanField(read_only=True)


class ErrorSerializer(serializers.Serializer):
    """Every refusal: 400 (bad input), 403, 404 (missing or not visible), 409 (wrong state).

    A 400 from a malformed body names the fields instead: `{"field": ["message", ...]}`.
    """

    detail = serializers.CharField(read_only=True)


# --- conversations ---------------------------------------------------------------------


class ConversationSerializer(serializers.Serializer):
    """A conversation as a list row. `deleted_at` is present only for roles that may see
    deleted conversations."""

    id = serializers.IntegerField(read_only=True)
    status = serializers.ChoiceField(choices=Status.choices, read_only=True)
    effective_status = serializers.SerializerMethodField(
        help_text="The status as operators see it: a snooze whose time has passed reads as "
        "`open` before the sweep wakes it."
    )
    priority = PriorityField(read_only=True)
    topic = serializers.CharField(read_only=True)
    team = TeamRefSerializer(read_only=True, allow_null=True)
    assignee = UserRefSerializer(read_only=True, allow_null=True)
    inbox = InboxRefSerializer(read_only=True)
    customer = CustomerRefSerializer(read_only=True)
    waiting_since = serializers.DateTimeField(read_only=True, allow_null=True)
    first_response_at = serializers.DateTimeField(read_only=True, allow_null=True)
    last_message_at = serializers.DateTimeField(read_only=True, allow_null=True)
    last_message_preview = serializers.CharField(read_only=True)
    unread_count = serializers.IntegerField(read_only=True)
    snoozed_until = FarDateTimeField(read_only=True, allow_null=True)
    snooze_until_reply = serializers.BooleanField(read_only=True)
    snooze_reason = serializers.CharField(read_only=True)
    closed_at = serializers.DateTimeField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)
    # Not read-only on purpose: the schema then lists it as optional, which it is.
    deleted_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="Only for roles that may restore conversations.",
    )

    # Documented as a plain string: an enum here would be a second name for the status enum.
    @extend_schema_field({"type": "string", "description": "One of `open`, `snoozed`, `closed`."})
    def get_effective_status(self, conversation: Conversation) -> str:
        annotated = getattr(conversation, "effective_status", None)
        return annotated if annotated is not None else effective_status(conversation)

    def to_representation(self, instance: Conversation) -> dict[str, Any]:
        data = self._represent(instance)
        if not self.context.get("can_see_deleted"):
            data.pop("deleted_at", None)
        return data

    def _represent(self, c: Conversation) -> dict[str, Any]:
        """What DRF's generic walk over the fields gives (`Serializer.to_representation`), built
        directly: a list page serialises up to 200 of these, and the walk (22 fields, four
        nested serializers, a time-zone lookup per time) was a third of the endpoint's CPU.
        tests/chats/api/test_conversation_serializer.py holds the two equal, field by field;
        a field this does not know (a subclass's) takes the generic way."""
        plan = self.__dict__.get("_plan")
        if plan is None:
            plan = self.__dict__["_plan"] = _plan(self.fields)
        # Each time field takes the zone of this call (DRF asks for it per field and row).
        zone = timezone.get_current_timezone()
        data: dict[str, Any] = {}
        for name, how, field in plan:
            if how == "time":
                value = getattr(c, name)
                field.timezone = zone
                data[name] = None if value is None else field.to_representation(value)
            elif how == "plain":
                data[name] = getattr(c, _PLAIN[name])
            elif how == "choice":
                data[name] = str(getattr(c, name))
            elif how == "effective_status":
                data[name] = self.get_effective_status(c)
            elif how == "priority":
                data[name] = PRIORITY_NAMES.get(c.priority, str(c.priority))
            elif how == "team":
                team = c.team
                data[name] = team and {"id": team.pk, "name": str(team.name)}
            elif how == "assignee":
                assignee = c.assignee
                data[name] = assignee and {"id": assignee.pk, "name": str(assignee)}
            elif how == "inbox":
                inbox = c.inbox
                data[name] = {"id": inbox.pk, "name": str(inbox.name), "kind": str(inbox.kind)}
            elif how == "customer":
                data[name] = {"id": c.customer.pk, "name": str(c.customer.name)}
            else:
                _represent_field(data, field, c)
        return data


def _plan(fields: Any) -> list[tuple[str, str, serializers.Field]]:
    """How each readable field is built: directly when it is ConversationSerializer's own
    declaration (same class, same source), the generic way otherwise (a subclass's field, or
    one it redeclares)."""
    own = ConversationSerializer._declared_fields
    plan = []
    for name, field in fields.items():
        if field.write_only:
            continue
        declared = own.get(name)
        mine = (
            declared is not None
            and type(field) is type(declared)
            and field.source == (declared.source or name)
        )
        if not mine:
            how = "generic"
        elif isinstance(field, serializers.DateTimeField):
            how = "time"
        elif name in _PLAIN:
            how = "plain"
        elif name == "status":
            how = "choice"
        elif name in ("effective_status", "priority", "team", "assignee", "inbox", "customer"):
            how = name
        else:
            how = "generic"
        plan.append((name, how, field))
    return plan


# ConversationSerializer's fields whose wire value is the attribute itself (ids, counts,
# strings, booleans, the status choice): field name -> attribute.
_PLAIN = {
    "id": "pk",
    "topic": "topic",
    "last_message_preview": "last_message_preview",
    "unread_count": "unread_count",
    "snooze_until_reply": "snooze_until_reply",
    "snooze_reason": "snooze_reason",
}


def _represent_field(data: dict[str, Any], field: serializers.Field, instance: Any) -> None:
    """One field the way DRF's `Serializer.to_representation` does it."""
    try:
        attribute = field.get_attribute(instance)
    except serializers.SkipField:
        return
    data[field.field_name] = None if attribute is None else field.to_representation(attribute)


class ConversationDetailSerializer(ConversationSerializer):
    identities = serializers.SerializerMethodField(help_text="How the customer reaches us.")

    @extend_schema_field(IdentitySerializer(many=True))
    def get_identities(self, conversation: Conversation) -> list[dict[str, Any]]:
        # Masked for roles without the personal-data capability, exactly as on the page.
        shown = customer_identities(self.context["user"], conversation.customer)
        return IdentitySerializer(shown, many=True).data


# --- messages --------------------------------------------------------------------------


class AttachmentSerializer(serializers.Serializer):
    """A file the channel already hosts; Smartdesk stores the reference, not the file."""

    name = serializers.CharField(max_length=255)
    url = serializers.URLField(max_length=2000)
    size = serializers.IntegerField(min_value=0, required=False, help_text="Bytes.")
    content_type = serializers.CharField(max_length=100, required=False)


class StoredAttachmentSerializer(serializers.Serializer):
    """An attachment as stored: channels differ, so every key is optional."""

    name = serializers.CharField(required=False)
    url = serializers.CharField(required=False)
    size = serializers.IntegerField(required=False)
    content_type = serializers.CharField(required=False)


class MessageSerializer(serializers.Serializer):
    """A message of a thread. `deleted_at` and `deleted_by` are present only for roles that
    may see deleted messages (the others never receive deleted messages at all)."""

    id = serializers.IntegerField(read_only=True)
    conversation_id = serializers.IntegerField(read_only=True)
    kind = serializers.ChoiceField(choices=Message.Kind.choices, read_only=True)
    author = UserRefSerializer(read_only=True, allow_null=True)
    body = serializers.CharField(read_only=True)
    attachments = serializers.SerializerMethodField(
        help_text="Files of the message. `url` of a file Smartdesk stores opens with the same "
        "authentication as this API (session, or `Authorization: Token …`), for whoever may "
        "see the conversation."
    )
    delivery_status = serializers.ChoiceField(
        choices=Message.Delivery.choices, read_only=True, help_text="Replies only; empty otherwise."
    )
    delivery_error = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    deleted_at = serializers.DateTimeField(required=False, allow_null=True)
    deleted_by = UserRefSerializer(required=False, allow_null=True)

    @extend_schema_field(StoredAttachmentSerializer(many=True))
    def get_attachments(self, message: Message) -> list[dict[str, Any]]:
        # A stored file's own `url` (MEDIA_URL) is never served: link the gated download.
        found = []
        for index, item in enumerate(message.attachments or []):
            if not isinstance(item, dict):
                continue
            data = StoredAttachmentSerializer(item).data
            if item.get("path"):
                data["url"] = attachment_api_url(message, index)
            found.append(data)
        return found

    def to_representation(self, instance: Message) -> dict[str, Any]:
        data = super().to_representation(instance)
        if not self.context.get("can_see_deleted"):
            data.pop("deleted_at", None)
            data.pop("deleted_by", None)
        return data


class MessageCreateSerializer(serializers.Serializer):
    """A reply to the customer or an internal note: a text, or a template rendered for this
    conversation (not both)."""

    kind = serializers.ChoiceField(
        choices=[("reply", _("reply")), ("note", _("internal note"))],
        help_text="`reply` goes to the customer; `note` is seen by colleagues only.",
    )
    body = serializers.CharField(required=False, allow_blank=True, default="")
    template_id = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="Send this template, rendered for the conversation, instead of `body`.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["body"].strip() and attrs.get("template_id") is not None:
            raise serializers.ValidationError(_("Send either a text or a template, not both."))
        return attrs


# --- conversation actions --------------------------------------------------------------


class AssignSerializer(serializers.Serializer):
    operator = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.all(),
        required=False,
        allow_null=True,
        error_messages={"does_not_exist": _("No such operator.")},
        help_text="The operator's user id; omitted: the caller.",
    )


class TransferSerializer(serializers.Serializer):
    team = serializers.PrimaryKeyRelatedField(
        queryset=Team.objects.all(),
        required=False,
        allow_null=True,
        error_messages={"does_not_exist": _("No such team.")},
    )
    operator = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.all(),
        required=False,
        allow_null=True,
        error_messages={"does_not_exist": _("No such operator.")},
        help_text="Omitted: the conversation goes to the team's queue.",
    )
    reason = serializers.CharField(allow_blank=True, max_length=500)
    topic = serializers.CharField(required=False, max_length=100, allow_blank=True)


class PrioritySerializer(serializers.Serializer):
    priority = PriorityField()


class SnoozeSerializer(serializers.Serializer):
    preset = serializers.ChoiceField(
        choices=list(PRESETS.items()),
        help_text="Computed in the caller's time zone (their profile): `1h`, `tomorrow` 09:00, "
        "next `monday` 09:00, until the customer `reply`, or `custom` (`until`).",
    )
    until = FarDateTimeField(
        required=False,
        allow_null=True,
        help_text="For `custom` only. Without an offset it is read in the caller's time zone.",
    )
    wake_on_reply = serializers.BooleanField(
        required=False,
        default=True,
        help_text="Also wake when the customer writes (the default).",
    )
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("until") is not None and attrs["preset"] != "custom":
            raise serializers.ValidationError({"until": [_("Only a custom snooze takes a time.")]})
        return attrs


class DeleteSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


# --- templates -------------------------------------------------------------------------


class ReplyTemplateSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    shortcut = serializers.CharField(read_only=True)
    body = serializers.CharField(read_only=True, help_text="With its `{{ placeholders }}`.")
    team = TeamRefSerializer(read_only=True, allow_null=True)
    language = serializers.CharField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


class TemplateListQuerySerializer(serializers.Serializer):
    conversation = serializers.IntegerField(
        required=False,
        help_text="Also offer the templates of this conversation's team.",
    )


class TemplateRenderQuerySerializer(serializers.Serializer):
    conversation = serializers.IntegerField(help_text="The conversation to fill the template for.")


class RenderedTemplateSerializer(serializers.Serializer):
    text = serializers.CharField(read_only=True, help_text="Plain text, as it would be sent.")
    html = serializers.CharField(
        read_only=True, help_text="An escaped HTML preview; filled-in values are in <mark>."
    )


# --- search ----------------------------------------------------------------------------


class SearchQuerySerializer(serializers.Serializer):
    q = serializers.CharField(
        max_length=200, help_text="Customer name, phone, e-mail or handle, or words of a message."
    )


# --- inbound channel API ---------------------------------------------------------------


class InboundCustomerSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Identity.Kind.choices)
    value = serializers.CharField(max_length=255)
    first_name = serializers.CharField(required=False, allow_blank=True, max_length=150)
    last_name = serializers.CharField(required=False, allow_blank=True, max_length=150)
    language = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=35,
        help_text="The customer's language if your system knows it, e.g. `ru` or `en-GB`: "
        "taken as set on purpose, it outranks what a messenger or a browser says.",
    )

    def validate_language(self, value: str) -> str:
        try:
            return language_validate(value)
        except ValueError as problem:
            raise serializers.ValidationError(str(problem)) from None

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not identity_normalise(attrs["kind"], attrs["value"]):
            raise serializers.ValidationError(
                {"value": [_("This is not a valid %(kind)s.") % {"kind": attrs["kind"]}]}
            )
        return attrs


class InboundMessageSerializer(serializers.Serializer):
    external_id = serializers.CharField(
        max_length=128, help_text="Your id of the message: a repeat of it stores nothing new."
    )
    customer = InboundCustomerSerializer()
    text = serializers.CharField(
        allow_blank=True, help_text="May be empty when there are attachments."
    )
    attachments = AttachmentSerializer(many=True, required=False, max_length=20)


class InboundResultSerializer(serializers.Serializer):
    message_id = serializers.IntegerField(read_only=True)
    conversation_id = serializers.IntegerField(read_only=True)
    created = serializers.BooleanField(
        read_only=True, help_text="False: this external_id was already stored; nothing changed."
    )
