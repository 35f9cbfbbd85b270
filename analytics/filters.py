"""Query-string filters of the reports API and its exports (django-filter).

`ReportFilter` reads and validates `from`, `to`, `team`, `channel`, `operator` and
`updated_since` (from the query string, or the body of `POST reports/exports/`) and turns them
into an `analytics.exports.Query`. Each dataset applies that Query to its own rows: the same
filter means `team_id` on a conversation, `conversation__team_id` on a message, and a
background export job keeps the Query as JSON to apply later, outside the request.

A bad value is a 400 naming the field (`{"from": ["Not a date or date-time: …"]}`).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import django_filters
from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from analytics.exports import Query
from chats.models import Conversation, Inbox

CHANNELS = (*Inbox.Kind.values, "phone")

# Every date a report takes lies here: a day either side (a time zone, an inclusive end) stays
# inside what Python's datetime and PostgreSQL can hold.
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(9998, 12, 31)
# A local day across a daylight-saving change is 25 hours: a period of whole days may be an
# hour longer than its number of days.
_DST_SLACK = timedelta(hours=1)


def out_of_range_message() -> str:
    return _("Dates must be between %(first)s and %(last)s.") % {
        "first": FIRST_DAY.isoformat(),
        "last": LAST_DAY.isoformat(),
    }


def check_day(day: date) -> None:
    """Raise ValidationError for a date outside [FIRST_DAY, LAST_DAY]."""
    if not FIRST_DAY <= day <= LAST_DAY:
        raise forms.ValidationError(out_of_range_message(), code="out_of_range")


def check_span(start: datetime, end: datetime) -> None:
    """Raise ValidationError when [start, end) is longer than `REPORT_MAX_DAYS`: the figures
    cost memory and time in proportion to the hours of the period."""
    days = settings.REPORT_MAX_DAYS
    if end - start > timedelta(days=days) + _DST_SLACK:
        raise forms.ValidationError(
            ngettext(
                "A period can be at most %(days)d day long.",
                "A period can be at most %(days)d days long.",
                days,
            )
            % {"days": days},
            code="too_long",
        )


class MomentField(forms.CharField):
    """A date (`YYYY-MM-DD`) or an ISO 8601 date-time. Cleaned to a `date` or a `datetime`
    (a naive one is read in the viewer's time zone by `ReportForm`)."""

    def clean(self, value: Any) -> date | datetime | None:
        value = (super().clean(value) or "").strip()
        if not value:
            return None
        try:
            moment = parse_date(value) if len(value) == 10 else None
            moment = moment or parse_datetime(value)
        except ValueError:
            moment = None
        if moment is None:
            raise forms.ValidationError(
                _("Not a date or date-time: %(v)s"), code="invalid", params={"v": value}
            )
        check_day(moment.date() if isinstance(moment, datetime) else moment)
        return moment


class ManyWidget(forms.Widget):
    """Repeated (`team=1&team=2`), comma-separated (`team=1,2`) or, in a JSON body, a list."""

    def value_from_datadict(self, data: Any, files: Any, name: str) -> list[str] | None:
        values = data.getlist(name) if hasattr(data, "getlist") else data.get(name)
        if values in (None, "", []):
            return None
        if not isinstance(values, list | tuple):
            values = [values]
        out = [v.strip() for raw in values for v in str(raw).split(",") if v.strip()]
        return out or None


class IdsField(forms.Field):
    widget = ManyWidget

    def __init__(self, *, message: str = "", **kwargs: Any) -> None:
        self.message = message
        super().__init__(**kwargs)

    def clean(self, value: Any) -> tuple[int, ...] | None:
        if not value:
            return None
        try:
            return tuple(int(v) for v in value)
        except (TypeError, ValueError):
            raise forms.ValidationError(self.message, code="invalid") from None


class ChannelsField(forms.Field):
    widget = ManyWidget

    def clean(self, value: Any) -> tuple[str, ...] | None:
        if not value:
            return None
        unknown = sorted(set(value) - set(CHANNELS))
        if unknown:
            raise forms.ValidationError(
                _("Unknown channel: %(c)s"), code="invalid_choice", params={"c": ", ".join(unknown)}
            )
        return tuple(value)


@extend_schema_field(OpenApiTypes.STR)
class MomentFilter(django_filters.Filter):
    field_class = MomentField


@extend_schema_field({"type": "array", "items": {"type": "integer"}})
class IdsFilter(django_filters.Filter):
    field_class = IdsField


@extend_schema_field({"type": "array", "items": {"type": "string", "enum": list(CHANNELS)}})
class ChannelsFilter(django_filters.Filter):
    field_class = ChannelsField


class ReportForm(forms.Form):
    """Dates become instants in the viewer's zone (`to` as a date is inclusive); the period
    must not end before it starts."""

    tz: ZoneInfo = ZoneInfo("UTC")

    def _instant(self, value: date | datetime | None, *, end: bool = False) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            day = value + timedelta(days=1) if end else value
            return datetime.combine(day, time.min, tzinfo=self.tz)
        return value if timezone.is_aware(value) else value.replace(tzinfo=self.tz)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        data["from"] = self._instant(data.get("from"))
        data["to"] = self._instant(data.get("to"), end=True)
        data["updated_since"] = self._instant(data.get("updated_since"))
        if data["from"] and data["to"]:
            if data["to"] <= data["from"]:
                self.add_error("to", _("The end must be after the start."))
            else:
                try:
                    check_span(data["from"], data["to"])
                except forms.ValidationError as error:
                    self.add_error("to", error)
        return data


class ReportFilter(django_filters.FilterSet):
    team = IdsFilter(
        message=_("Team ids are numbers."), help_text="Team ids (repeat or comma-separate)."
    )
    channel = ChannelsFilter(help_text="widget, telegram, mobile, api, phone.")
    operator = IdsFilter(
        message=_("Operator ids are numbers."),
        help_text="Operator ids (repeat or comma-separate): their conversations, calls, figures.",
    )
    updated_since = MomentFilter(help_text="Incremental pull: changed since (ISO).")

    class Meta:
        model = Conversation
        fields: list[str] = []
        form = ReportForm

    def __init__(self, data: Any = None, *args: Any, tz: ZoneInfo | None = None, **kw: Any):
        super().__init__(data, *args, **kw)
        self.tz = tz or ZoneInfo("UTC")

    @property
    def form(self) -> ReportForm:
        form = super().form
        form.tz = self.tz
        return form

    def query(self) -> Query:
        """The validated filters as the datasets' Query (call after `is_valid()`)."""
        data = self.form.cleaned_data
        return Query(
            start=data.get("from"),
            end=data.get("to"),
            team_ids=data.get("team"),
            channels=data.get("channel"),
            operator_ids=data.get("operator"),
            updated_since=data.get("updated_since"),
        )


# `from` is a Python keyword: these two are added by name.
ReportFilter.base_filters = {
    "from": MomentFilter(help_text="Start: a date (local midnight) or ISO datetime."),
    "to": MomentFilter(help_text="End: a date (inclusive) or ISO datetime (exclusive)."),
    **ReportFilter.base_filters,
}
