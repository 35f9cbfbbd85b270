"""Snooze presets, computed in the operator's own time zone (daylight saving included), and
the horizon: a snooze wakes at most `SNOOZE_MAX_DAYS` ahead."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

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
        check_horizon(custom, now=now)
        return custom
    raise ValidationError(_("Unknown snooze option: %(preset)s"), params={"preset": preset})


def check_horizon(until: datetime, *, now: datetime) -> None:
    """Raise ValidationError when `until` is further ahead than `SNOOZE_MAX_DAYS`.

    A wake-up time near year 9999 is not just useless: seen from a zone ahead of UTC it is
    past the last date Python can hold.
    """
    days = settings.SNOOZE_MAX_DAYS
    if until - now > timedelta(days=days):
        raise ValidationError(
            ngettext(
                "A snooze can wake up at most %(days)d day ahead.",
                "A snooze can wake up at most %(days)d days ahead.",
                days,
            )
            % {"days": days},
            code="snooze_horizon",
        )


def local_or_utc(moment: datetime) -> datetime:
    """`moment` in the current time zone, or in UTC when that is past year 9999.

    Rows snoozed before the horizon existed may hold a wake-up time at the end of time; a
    colleague in a zone ahead of UTC (Pacific/Kiritimati, UTC+14) must still see the page.
    """
    if timezone.is_naive(moment):
        return moment
    try:
        return timezone.localtime(moment)
    except OverflowError:
        return moment.astimezone(UTC)
