"""Formatting of figures on the statistics pages, in the active language's number format (the
same as `Intl.NumberFormat` with the page's `<html lang>` in static/js/statistics.js):
"42,9 %", "1 234", "2,5 ч" in Russian; "42.9%", "1,234", "2.5 h" in English."""

from __future__ import annotations

import math
from typing import Any

from django import template
from django.utils.formats import number_format
from django.utils.translation import gettext as _

register = template.Library()

DASH = "—"


def number(value: Any, decimals: int | None = None) -> str:
    """A number in the active locale: its decimal separator, digits grouped."""
    if isinstance(value, float) and not math.isfinite(value):
        return "∞" if value > 0 else DASH
    if decimals is not None:
        value = round(value, decimals)  # number_format cuts the digits off, it does not round
    return number_format(value, decimal_pos=decimals, use_l10n=True, force_grouping=True)


@register.filter
def duration(seconds: Any) -> str:
    """12 s, 4 min 05 s, 2 h 10 min; an em dash for no value."""
    if seconds is None:
        return DASH
    s = round(float(seconds))
    if s < 60:
        return _("%(s)d s") % {"s": s}
    if s < 3600:
        return _("%(m)d min %(s)02d s") % {"m": s // 60, "s": s % 60}
    return _("%(h)d h %(m)02d min") % {"h": s // 3600, "m": (s % 3600) // 60}


def _percent_text(text: str) -> str:
    # Translators: a percentage; Russian puts a no-break space before the sign ("42,9 %").
    return _("%(number)s%%") % {"number": text}


@register.filter
def percent(value: Any) -> str:
    """A share (0.429) as a percentage with one decimal: "42.9%", "42,9 %"."""
    if value is None:
        return DASH
    return _percent_text(number(float(value) * 100, 1))


@register.filter
def signed_percent(value: Any) -> str:
    """A change (0.25) as a whole signed percentage: "+25%" ("+25 %" in Russian)."""
    if value is None:
        return ""
    rounded = round(float(value) * 100)
    sign = "+" if rounded > 0 else "-" if rounded < 0 else "±"
    return _percent_text(sign + number(abs(rounded)))


@register.filter
def signed_whole_percent(value: Any) -> str:
    """A change already in percent (300) as "+300%"."""
    if value is None:
        return ""
    return signed_percent(float(value) / 100)


@register.filter
def whole_percent(value: Any) -> str:
    """A figure already in percent (40) as "40%", "40 %"."""
    if value is None:
        return DASH
    return _percent_text(number(round(float(value))))


@register.filter
def hours(value: Any) -> str:
    """Hours with one decimal and the unit: "2.5 h", "2,5 ч"."""
    if value is None:
        return DASH
    # The catalogue holds a plain space (xgettext does not read "\u" escapes); the unit is
    # kept on the number's line with a no-break space.
    text = _("%(hours)s h") % {"hours": number(float(value), 1)}
    return text.replace(" ", "\u00a0")


@register.filter
def decimal(value: Any, places: int = 1) -> str:
    """A plain number with `places` decimals in the active locale (floatformat, grouped)."""
    if value is None:
        return DASH
    return number(float(value), int(places))


@register.filter
def figure(value: Any, unit: str = "count") -> str:
    if value is None:
        return DASH
    if unit == "seconds":
        return duration(value)
    if unit == "percent":
        return percent(value)
    if unit == "hours":
        return hours(value)
    if unit == "score":
        return number(float(value), 2)
    return number(value) if isinstance(value, int) else number(float(value), 1)


@register.filter
def shade(value: float, top: float) -> str:
    """A heatmap cell's background opacity, 0–1 (CSS: always a decimal point)."""
    if not top:
        return "0"
    return f"{min(1.0, float(value) / float(top)):.2f}"
