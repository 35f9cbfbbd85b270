"""Snooze presets, computed in the operator's own time zone (daylight saving included)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

MORNING = time(9, 0)

PRESETS = {
    "1h": _("For an hour"),
    "tomorrow": _("Tomorrow 09:00"),
    "monday": _("Next Monday 09:00"),
    "reply": _("Until the customer replies"),
    "custom": _("Until a date and time"),
}


def snooze_until(
    preset: str, *, now: datetime, tz: ZoneInfo, custom: datetime | None = None
) -> datetime | None:
    """The wake-up time for a preset; None for "until the customer replies".

    Raises ValidationError for an unknown preset or a custom time that is not in the future.
    """
    local_today = now.astimezone(tz).date()
    if preset == "1h":
        return now + timedelta(hours=1)
    if preset == "tomorrow":
        return datetime.combine(local_today + timedelta(days=1), MORNING, tzinfo=tz)
    if preset == "monday":
        days = 7 - local_today.weekday()  # Monday is 0: from a Monday, the next one
        return datetime.combine(local_today + timedelta(days=days), MORNING, tzinfo=tz)
    if preset == "reply":
        return None
    if preset == "custom":
        if custom is None:
            raise ValidationError(_("Choose the date and time to wake up."))
        if custom.tzinfo is None:
            custom = custom.replace(tzinfo=tz)
        if custom <= now:
            raise ValidationError(_("The wake-up time must be in the future."))
        return custom
    raise ValidationError(_("Unknown snooze option: %(preset)s"), params={"preset": preset})
