"""Forms of the operator workspace: they parse and validate input, the services do the work.

No form saves anything; the views hand `cleaned_data` to one service each.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.selectors import assignable_operators, teams_by_name
from chats.models import Conversation
from chats.snooze import PRESETS, snooze_until


class ListParamsForm(forms.Form):
    """The list pane's query string: `?view=&q=&page=`. Bad values fall back to defaults."""

    view = forms.SlugField(required=False, max_length=20)
    q = forms.CharField(required=False, max_length=200)
    page = forms.IntegerField(required=False, min_value=1, max_value=10_000)

    def params(self) -> dict[str, Any]:
        self.is_valid()  # an invalid field is left out of cleaned_data; the others stay
        data = self.cleaned_data
        return {
            "view": data.get("view") or "mine",
            "q": (data.get("q") or "").strip(),
            "page": data.get("page") or 1,
        }


class SendForm(forms.Form):
    """The composer. An empty or too long text is refused by the service, in its words."""

    KINDS = (("reply", _("Reply to the customer")), ("note", _("Internal note")))

    kind = forms.ChoiceField(
        label=_("Message type"), choices=KINDS, initial="reply", widget=forms.RadioSelect
    )
    body = forms.CharField(label=_("Message"), required=False, strip=False, widget=forms.Textarea)


class PriorityForm(forms.Form):
    priority = forms.TypedChoiceField(
        label=_("Priority"), choices=Conversation.Priority.choices, coerce=int
    )


class TransferForm(forms.Form):
    """A team, an operator, or both; the reason is required (the service says so too)."""

    team = forms.ModelChoiceField(
        label=_("Team"),
        queryset=teams_by_name(),
        required=False,
        empty_label=_("Keep the team"),
    )
    operator = forms.ModelChoiceField(
        label=_("Operator"),
        queryset=assignable_operators(),
        required=False,
        empty_label=_("Team queue (nobody)"),
    )
    reason = forms.CharField(label=_("Reason"), required=False, max_length=500)


class DeleteForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), required=False, max_length=500)


class TemplateSearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=50)

    def shortcut_prefix(self) -> str:
        return (self.cleaned_data.get("q") or "").strip().lstrip("/") if self.is_valid() else ""


class SnoozeForm(forms.Form):
    """A preset or a custom local time, read in the operator's own time zone.

    `cleaned_data` gains `wake_at` (None: until the customer replies) and `wake_on_reply`.
    """

    DATETIME_LOCAL = "%Y-%m-%dT%H:%M"

    preset = forms.ChoiceField(
        label=_("Snooze"), choices=list(PRESETS.items()), widget=forms.RadioSelect
    )
    until = forms.DateTimeField(
        label=_("Date and time"),
        required=False,
        input_formats=[DATETIME_LOCAL, "%Y-%m-%dT%H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
    )
    reason = forms.CharField(label=_("Reason (shown in the list)"), required=False, max_length=200)
    stay_snoozed = forms.BooleanField(
        label=_("Stay snoozed even if the customer writes"), required=False
    )

    def __init__(self, *args: Any, tz: ZoneInfo, now: datetime, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tz = tz
        self.now = now

    def full_clean(self) -> None:
        # A datetime-local value has no zone: it is the operator's wall clock, wherever the
        # server or the request thinks it is.
        with timezone.override(self.tz):
            super().full_clean()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        preset = cleaned.get("preset")
        if not preset:
            return cleaned
        wake_at = snooze_until(preset, now=self.now, tz=self.tz, custom=cleaned.get("until"))
        stay = bool(cleaned.get("stay_snoozed"))
        if stay and wake_at is None:
            raise ValidationError(
                _("“Stay snoozed even if the customer writes” needs a wake-up time.")
            )
        cleaned["wake_at"] = wake_at
        cleaned["wake_on_reply"] = not stay
        return cleaned


def form_errors(form: forms.Form) -> list[str]:
    """Every error of a bound form as flat, translated sentences."""
    errors: list[str] = []
    for name, field_errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else None
        for error in field_errors:
            errors.append(f"{label}: {error}" if label else str(error))
    return errors
