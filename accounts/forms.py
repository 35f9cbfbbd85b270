from __future__ import annotations

from collections.abc import Iterator

from django import forms
from django.forms import BoundField
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from accounts.models import OperatorProfile
from accounts.services import PREFERENCE_FIELDS
from accounts.timezones import Choices, time_zone_choices


def _time_zone_choices() -> Choices:
    """Grouped by region, in the viewer's language, with each zone's UTC offset."""
    return time_zone_choices()


class PreferencesForm(forms.ModelForm):
    time_zone = forms.ChoiceField(label=_("time zone"), choices=_time_zone_choices)

    # The page shows the fields in these groups, one fieldset with a legend each.
    GROUPS: tuple[tuple[Promise, tuple[str, ...]], ...] = (
        (
            _("Display"),
            ("language", "time_zone", "font_scale", "high_contrast", "reduced_motion"),
        ),
        (
            _("Alerts"),
            ("alert_sound", "alert_desktop", "alert_title_count", "reduced_distraction"),
        ),
        (_("Keyboard"), ("keyboard_shortcuts",)),
    )

    class Meta:
        model = OperatorProfile
        fields = PREFERENCE_FIELDS
        help_texts = {
            # Permission is asked for only on the operator's own click (the box or the button).
            "alert_desktop": _(
                "Shown only while Smartdesk is in a background tab. The browser asks for "
                "permission when you tick this box or press the button below."
            ),
        }

    def groups(self) -> Iterator[tuple[Promise, list[BoundField]]]:
        for legend, names in self.GROUPS:
            yield legend, [self[name] for name in names]
