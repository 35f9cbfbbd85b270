"""`{{ moment|local_time:"D j M, H:i" }}`: Django's `date` filter, but a moment past year 9999
in the viewer's zone (a far-future snooze seen from UTC+14) is shown in UTC instead of
failing the whole page."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import template
from django.utils import formats

from chats.snooze import local_or_utc

register = template.Library()


@register.filter
def local_time(value: Any, arg: str | None = None) -> str:
    if not isinstance(value, datetime):
        return ""
    return formats.date_format(local_or_utc(value), arg)
