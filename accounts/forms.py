from __future__ import annotations

import zoneinfo

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import OperatorProfile


def _time_zone_choices() -> list[tuple[str, str]]:
    return [(tz, tz) for tz in sorted(zoneinfo.available_timezones())]


class PreferencesForm(forms.ModelForm):
    time_zone = forms.ChoiceField(label=_("time zone"), choices=_time_zone_choices)

    class Meta:
        model = OperatorProfile
        fields = (
            "language",
            "time_zone",
            "font_scale",
            "high_contrast",
            "reduced_motion",
            "alert_sound",
            "alert_desktop",
            "alert_title_count",
            "reduced_distraction",
            "keyboard_shortcuts",
        )
