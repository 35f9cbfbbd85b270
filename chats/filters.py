"""Query-string filters of the chats API. They narrow a queryset that already came through the
gate (`chats.selectors`); none of them widens what the caller may see."""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_filters.fields import IsoDateTimeField
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter

from chats.models import Conversation, Inbox, ReplyTemplate
from chats.selectors import INBOX_VIEWS, active_q, inbox, search_conversations, snoozed_q
from chats.serializers import PRIORITY_VALUES

ME, NOBODY = "me", "none"
Status = Conversation.Status


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(django_filters.NumberFilter):
    """An integer id (NumberFilter alone would accept and truncate `1.5`)."""

    field_class = forms.IntegerField


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 time with any offset the format allows, read in UTC.

    PostgreSQL refuses offsets beyond ±15:59 (a 500 for `-20:33`), so the value goes to the
    database in UTC; a time whose UTC equivalent falls outside the representable years
    (0001-01-01 with a positive offset, 9999-12-31 with a negative one) is the first or
    last representable instant, which is what it means to a `>=`/`<=` filter.
    """

    def to_python(self, value: Any) -> dt.datetime | None:
        parsed = super().to_python(value)
        if parsed is None:
            return None
        try:
            return parsed.astimezone(dt.UTC)
        except OverflowError:
            if parsed.year == dt.MINYEAR:
                return dt.datetime.min.replace(tzinfo=dt.UTC)
            return dt.datetime.max.replace(tzinfo=dt.UTC)


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """Every datetime filter of the API: ISO 8601, any offset, compared in UTC."""

    field_class = UtcIsoDateTimeField


ASSIGNEE_PATTERN = r"^(me|none|[0-9]+)$"


class AssigneeField(forms.CharField):
    def clean(self, value: Any) -> str | int | None:
        value = super().clean(value)
        if value in (None, ""):
            return None
        if value in (ME, NOBODY):
            return value
        try:
            return int(value)
        except (TypeError, ValueError):
            raise forms.ValidationError(
                _('Use an operator id, "me" or "none".'), code="invalid"
            ) from None


@extend_schema_field(
    {
        "type": "string",
        "pattern": ASSIGNEE_PATTERN,
        "description": 'An operator id, "me" or "none" (unassigned).',
    }
)
class AssigneeFilter(django_filters.Filter):
    field_class = AssigneeField


class ConversationFilter(django_filters.FilterSet):
    view = django_filters.ChoiceFilter(
        choices=[(v.slug, v.label) for v in INBOX_VIEWS],
        method="filter_view",
        help_text="A list view of the inbox, as in the operator UI: `mine`, `queue`, `team`, "
        "`all`, `snoozed`, `closed` or `deleted` (a view your role does not have answers 404). "
        "Omitted: every conversation you may see.",
    )
    status = django_filters.ChoiceFilter(
        choices=Conversation.Status.choices,
        method="filter_status",
        help_text="The effective status: a snooze whose time has passed counts as `open`.",
    )
    team = IdFilter(field_name="team_id")
    assignee = AssigneeFilter(method="filter_assignee")
    priority = django_filters.ChoiceFilter(
        choices=[(name, name) for name in PRIORITY_VALUES], method="filter_priority"
    )
    inbox = IdFilter(field_name="inbox_id")
    channel = django_filters.ChoiceFilter(
        field_name="inbox__kind", choices=Inbox.Kind.choices, help_text="The inbox's channel."
    )
    customer = IdFilter(field_name="customer_id")
    updated_since = UtcIsoDateTimeFilter(
        field_name="updated_at",
        lookup_expr="gte",
        help_text="Changed at or after this ISO 8601 time, for incremental pulls "
        "(with `ordering=updated_at`).",
    )
    q = django_filters.CharFilter(
        method="filter_q", help_text="Search: customer name, identity or message text."
    )

    class Meta:
        model = Conversation
        fields: list[str] = []

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        view = self.form.cleaned_data.get("view")
        if view:
            # The selector owns each view: what it lists and who has it. The other filters
            # narrow its list.
            queryset = inbox(self.request.user, view=view)
        return super().filter_queryset(queryset)

    def filter_view(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset  # applied first, in filter_queryset()

    def filter_status(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        # The selectors' plain predicates rather than the annotation: they can use the index.
        now = timezone.now()
        if value == Status.OPEN:
            return queryset.filter(active_q(now))
        if value == Status.SNOOZED:
            return queryset.filter(snoozed_q(now))
        return queryset.filter(status=value)

    def filter_assignee(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == ME:
            return queryset.filter(assignee_id=self.request.user.pk)
        if value == NOBODY:
            return queryset.filter(assignee__isnull=True)
        return queryset.filter(assignee_id=value)

    def filter_priority(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(priority=PRIORITY_VALUES[value])

    def filter_q(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        found = search_conversations(self.request.user, value)
        return queryset.filter(pk__in=found.values("pk"))


class TemplateFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="filter_q", help_text="Shortcuts starting with this (a leading / is ignored)."
    )

    class Meta:
        model = ReplyTemplate
        fields: list[str] = []

    def filter_q(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(shortcut__istartswith=value.lstrip("/"))


class StableOrderingFilter(OrderingFilter):
    """`?ordering=` for cursor pagination: one field, with the id as a tie-breaker.

    The cursor positions on the first field only, so a second field from the client would be
    ignored by the cursor and break paging; the id keeps equal values in a fixed order.
    """

    ordering_description = _(
        "`-created_at` (newest first, the default), `created_at`, `updated_at` (oldest change "
        "first, for incremental pulls) or `-updated_at`."
    )

    @staticmethod
    def choices(view: Any) -> list[str]:
        fields = getattr(view, "ordering_fields", None) or []
        return [f"{sign}{field}" for field in fields for sign in ("", "-")]

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"] = {"type": "string", "enum": self.choices(view)}
        return parameters

    def get_ordering(self, request: Any, queryset: QuerySet, view: Any) -> tuple[str, ...]:
        # One of the documented values, or a 400: DRF would silently ignore the rest, and
        # a client that misspelt the order would page in an order it did not ask for.
        asked = request.query_params.get(self.ordering_param)
        if asked is not None and asked not in self.choices(view):
            raise ValidationError(
                {self.ordering_param: [_("Use one of: %s.") % ", ".join(self.choices(view))]}
            )
        ordering = super().get_ordering(request, queryset, view)
        first = ordering[0]
        return (first, "-id" if first.startswith("-") else "id")
