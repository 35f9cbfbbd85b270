"""The partitioned tables (their key, interval and how far ahead) and the partitions' names and
bounds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta


@dataclass(frozen=True)
class Scheme:
    table: str
    key: str  # the partition key column
    interval: str  # "month" or "day"
    ahead: int  # how many intervals beyond the current one are created in advance
    # Run on a new, still detached partition holding the rows moved out of the default
    # partition: their DELETE fired the table's row triggers, the INSERT into the detached
    # table and the ATTACH fire none, so whatever a trigger keeps per row is put back here.
    after_move: str = ""


# The DELETE from the default removed the moved rows' channel ids (chats_message_external_key,
# chats 0009); without them a duplicate delivery would be accepted.
_MESSAGE_KEYS = (
    "INSERT INTO chats_message_external_key (inbox_id, external_id) "
    "SELECT inbox_id, external_id FROM {part} WHERE external_id IS NOT NULL"
)
MESSAGES = Scheme("chats_message", "created_at", "month", 3, after_move=_MESSAGE_KEYS)
LIVE_EVENTS = Scheme("smartdesk_liveevent", "created_at", "day", 7)
SCHEMES = (MESSAGES, LIVE_EVENTS)


def _start(scheme: Scheme, moment: datetime | date) -> date:
    day = moment.astimezone(UTC).date() if isinstance(moment, datetime) else moment
    return day.replace(day=1) if scheme.interval == "month" else day


def _next(scheme: Scheme, start: date) -> date:
    if scheme.interval == "day":
        return start + timedelta(days=1)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def partition_name(scheme: Scheme, start: date) -> str:
    suffix = start.strftime("%Y%m") if scheme.interval == "month" else start.strftime("%Y%m%d")
    return f"{scheme.table}_p{suffix}"


def default_name(scheme: Scheme) -> str:
    return f"{scheme.table}_default"


def _bound(start: date) -> str:
    return f"{start.isoformat()} 00:00:00+00"
