"""The time-zone list of the preferences page, readable in the viewer's language.

Python's zoneinfo has IANA identifiers only, no translations. The list groups the zones by
region (the identifier's first part, translated), names each by its place in the viewer's
language (CLDR's exemplar cities, shipped in Babel) and shows the UTC offset in force now:
"Москва (UTC+03:00)" under "Европа"; a zone that names no place shows its offset only.
Every zone the profile accepts is offered, so a saved choice stays valid; a legacy alias
("US/Eastern") is named by its canonical zone's city ("Нью-Йорк"), under "Other".
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.core import get_global
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.translation import pgettext_lazy

REGIONS: dict[str, Promise] = {
    "Africa": pgettext_lazy("time zone region", "Africa"),
    "America": pgettext_lazy("time zone region", "America"),
    "Antarctica": pgettext_lazy("time zone region", "Antarctica"),
    "Arctic": pgettext_lazy("time zone region", "Arctic"),
    "Asia": pgettext_lazy("time zone region", "Asia"),
    "Atlantic": pgettext_lazy("time zone region", "Atlantic Ocean"),
    "Australia": pgettext_lazy("time zone region", "Australia"),
    "Europe": pgettext_lazy("time zone region", "Europe"),
    "Indian": pgettext_lazy("time zone region", "Indian Ocean"),
    "Pacific": pgettext_lazy("time zone region", "Pacific Ocean"),
}
OTHER = pgettext_lazy("time zone region", "Other")

# Names in the tz database that are not zones to live in (the profile still validates them).
NOT_ZONES = frozenset({"localtime", "Factory"})

Choices = list[tuple[str, str] | tuple[str, list[tuple[str, str]]]]


@lru_cache(maxsize=1)
def _zones() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


def utc_offset(name: str, at: datetime | None = None) -> str:
    """The zone's offset from UTC at `at` (now): "UTC+03:00", "UTC-03:30"."""
    moment = (at or timezone.now()).astimezone(zoneinfo.ZoneInfo(name))
    offset = moment.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, minutes = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}:{minutes:02d}"


@lru_cache(maxsize=8)
def _cldr_cities(language: str) -> dict[str, str]:
    """CLDR's exemplar city of every zone, in `language` (Babel ships CLDR; no download)."""
    try:
        locale = Locale.parse(language.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        locale = Locale("en")
    return {zone: names["city"] for zone, names in locale.time_zones.items() if "city" in names}


def place_name(name: str, language: str | None = None) -> str:
    """The place a zone is named after, in the viewer's language: "Москва", "Буэнос-Айрес";
    a legacy alias by its canonical zone ("US/Eastern" → "Нью-Йорк"); "" for a zone that
    names no place (UTC, Etc/GMT-3) or one CLDR does not know yet."""
    canonical = get_global("zone_aliases").get(name, name)
    return _cldr_cities(language or translation.get_language() or "en").get(canonical, "")


def zone_label(name: str, at: datetime | None = None) -> str:
    offset = utc_offset(name, at)
    place = place_name(name)
    return f"{place} ({offset})" if place else offset


def time_zone_choices() -> Choices:
    """The form's choices: UTC first, then one group per region (translated), its zones by
    place; the zones without a region last, under "Other"."""
    now = timezone.now()
    grouped: dict[str, list[tuple[str, str]]] = {}
    other: list[tuple[str, str]] = []
    for name in _zones():
        if name == "UTC" or name in NOT_ZONES:
            continue
        region = name.partition("/")[0]
        label = zone_label(name, now)
        if region in REGIONS and "/" in name:
            grouped.setdefault(region, []).append((name, label))
        else:
            other.append((name, label))
    choices: Choices = [("UTC", "UTC")]
    for region, zones in sorted(grouped.items(), key=lambda item: str(REGIONS[item[0]])):
        choices.append((str(REGIONS[region]), sorted(zones, key=lambda z: z[1].casefold())))
    choices.append((str(OTHER), sorted(other, key=lambda z: z[1].casefold())))
    return choices
