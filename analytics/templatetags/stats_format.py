"""Formatting of figures on the statistics pages."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def duration(seconds: Any) -> str:
    """12 s, 4 min 05 s, 2 h 10 min; an em dash for no value."""
    if seconds is None:
        return "—"
    s = round(float(seconds))
    if s < 60:
        return _("%(s)d s") % {"s": s}
    if s < 3600:
        return _("%(m)d min %(s)02d s") % {"m": s // 60, "s": s % 60}
    return _("%(h)d h %(m)02d min") % {"h": s // 3600, "m": (s % 3600) // 60}


@register.filter
def percent(value: Any) -> str:
    if value is None:
        return "—"
    return f"{float(value) * 100:.1f} %"


@register.filter
def figure(value: Any, unit: str = "count") -> str:
    if value is None:
        return "—"
    if unit == "seconds":
        return duration(value)
    if unit == "percent":
        return percent(value)
    if unit == "score":
        return f"{float(value):.2f}"
    return f"{value:,}".replace(",", "\u202f") if isinstance(value, int) else f"{value:.1f}"


@register.filter
def signed_percent(value: Any) -> str:
    if value is None:
        return ""
    return f"{float(value) * 100:+.0f} %"


@register.filter
def shade(value: float, top: float) -> str:
    """A heatmap cell's background opacity, 0–1."""
    if not top:
        return "0"
    return f"{min(1.0, float(value) / float(top)):.2f}"
