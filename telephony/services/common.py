"""Helpers shared by the telephony services: numbers, operators' phones, raw AMI events,
and the operator's own realtime group. Not part of the package's API: import the services
from `telephony.services`."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from accounts.models import OperatorProfile
from customers.models import Identity
from smartdesk.core.realtime import publish, user_group
from telephony.models import Call, CallEvent


class Outcome:
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"


# --- helpers ----------------------------------------------------------------------------------


def interface_of(channel: str) -> str:
    """The device of a channel name: "PJSIP/101-0000002a" -> "PJSIP/101"."""
    channel = (channel or "").split(";", 1)[0]
    base, sep, _suffix = channel.rpartition("-")
    return base if sep and "/" in base else channel


def fingerprint(fields: dict[str, str]) -> str:
    canonical = "\n".join(f"{k}: {v}" for k, v in sorted(fields.items()))
    return hashlib.sha256(canonical.encode()).hexdigest()


def event_time(fields: dict[str, str], received_at: datetime) -> datetime:
    """The PBX's own clock when `timestampevents = yes` (manager.conf), else arrival."""
    raw = fields.get("Timestamp")
    if raw:
        try:
            return datetime.fromtimestamp(float(raw), tz=UTC)
        except (ValueError, OverflowError, OSError):
            pass
    return received_at


def customer_id_for_number(e164: str) -> int | None:
    if not e164:
        return None
    return (
        Identity.objects.filter(kind=Identity.Kind.PHONE, value=e164)
        .values_list("customer_id", flat=True)
        .first()
    )


def operator_for(*interfaces: str) -> int | None:
    """The user whose profile's phone extension is one of `interfaces` (one query)."""
    names = {name for name in interfaces if name}
    if not names:
        return None
    return (
        OperatorProfile.objects.filter(phone_extension__in=names)
        .values_list("user_id", flat=True)
        .first()
    )


def publish_to(user_id: int, event: dict[str, Any]) -> None:
    publish(event, groups=[user_group(user_id)], user_id=user_id)


def event_store(call: Call, fields: dict[str, str], received_at: datetime) -> bool:
    """Keep the raw event; False when this very event is already stored (a replay).

    The call row is locked by the caller: events of one call are applied one at a time, so
    this check cannot race with an insert of the same event."""
    uniqueid = fields.get("Uniqueid", "")
    digest = fingerprint(fields)
    if CallEvent.objects.filter(call=call, uniqueid=uniqueid, fingerprint=digest).exists():
        return False
    CallEvent.objects.create(
        call=call,
        name=fields.get("Event", ""),
        uniqueid=uniqueid,
        fingerprint=digest,
        fields=fields,
        received_at=received_at,
    )
    return True
