"""What every part of the operator pages shares: the sizes, the audit events the thread
shows, the actions it offers, and the request, time zone and date helpers."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.http import HttpRequest
from django.utils import formats

from accounts.access import profile_of
from chats.models import Conversation, ConversationEvent
from chats.snooze import local_or_utc

Status = Conversation.Status
EventType = ConversationEvent.Type

PAGE_SIZE = 50
THREAD_LIMIT = 200
TEMPLATE_OPTIONS = 10
# The audit events shown in the thread, between the messages.
TIMELINE_EVENTS = (
    EventType.ASSIGNED,
    EventType.UNASSIGNED,
    EventType.TRANSFERRED,
    EventType.PRIORITY,
    EventType.SNOOZED,
    EventType.WOKE,
    EventType.CLOSED,
    EventType.REOPENED,
    EventType.DELETED,
    EventType.RESTORED,
)
ACTIONS = (
    "send",
    "take",
    "unassign",
    "transfer",
    "priority",
    "snooze",
    "unsnooze",
    "close",
    "reopen",
    "delete",
    "restore",
)


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def time_zone_of(user: Any) -> ZoneInfo:
    profile = profile_of(user)
    return ZoneInfo(profile.time_zone if profile else settings.TIME_ZONE)


def _when(moment: datetime | None) -> str:
    """A short local date and time ("12 Mar, 14:05") in the activated (operator's) zone."""
    if moment is None:
        return ""
    return formats.date_format(local_or_utc(moment), "j M, H:i")
