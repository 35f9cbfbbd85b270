"""Datasets for BI: the same rows for the reports API and the export files.

A dataset is a gated queryset of `.values()` rows plus a function that turns one into the
published columns. The API pages through it (cursor pagination); an export streams it with a
server-side cursor (`.iterator()`), so memory stays constant whatever the size: CSV is
streamed to the client as it is produced, XLSX is written by openpyxl in write-only mode,
Parquet by pyarrow in record batches of `BATCH` rows. There are no row caps.

PII columns (customer name, phone, e-mail) are present only for roles with
`view_customer_pii`; without it the columns are absent, not blanked.

Every dataset reads through its gate: `visible_conversations` (conversations, events,
messages), `telephony.selectors.visible_calls` (calls), `stat_scope` (the roll-ups: hourly,
operators). tests/analytics/test_export_gates.py removes none of them silently.

What leaves the building is shaped in one place, `publish` (files and the API alike):

- a `datetime` column `x` is published as `x_local` (ISO 8601 with the offset, in the time
  zone of the person who asked: their profile's) and `x_utc` (the instant, for BI);
- durations are whole seconds (`int` columns, rounded half up), percentages have one decimal,
  other figures (CSAT averages) two: a `float` column is rounded to its `digits`, so no
  unrounded float leaves;

and the spreadsheet formats (CSV, XLSX) go through one more step, `spreadsheet_text`: a text
that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, a tab or CR,
leading blanks before them included) is prefixed with `'`, and XLSX cells holding text are
written as text cells (`t="inlineStr"`), never as formulas. Numbers stay numbers; a text that
is only a number or a phone number (`+7 916 123-45-00`, `-12.5`) cannot call anything and is
left as it is. Parquet is typed columnar data for BI tools, not a spreadsheet: raw text.
"""

from __future__ import annotations

import csv
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import IO, Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Length
from django.utils import timezone

from accounts.access import Capability, has_capability
from analytics import calls as call_source
from analytics.models import ExportJob, HourlyChat
from analytics.selectors import Filters, operator_table, stat_scope, viewer_tz
from chats.models import ConversationEvent, Message
from chats.selectors import visible_conversations
from customers.models import Identity
from smartdesk.oncommit import after_commit

BATCH = 10_000
FORMATS = ("csv", "xlsx", "parquet")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "parquet": "application/vnd.apache.parquet",
}


@dataclass(frozen=True)
class Column:
    key: str
    type: str  # "int" | "float" | "str" | "datetime" | "bool"
    pii: bool = False
    digits: int = 2  # a "float" is published rounded to this many decimals


@dataclass(frozen=True)
class Query:
    """What a dataset is asked for: period (UTC), teams, channels, operators, updated since
    (read from the request by `analytics.filters.ReportFilter`)."""

    start: datetime | None = None
    end: datetime | None = None
    team_ids: tuple[int, ...] | None = None
    channels: tuple[str, ...] | None = None
    updated_since: datetime | None = None
    operator_ids: tuple[int, ...] | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "team_ids": list(self.team_ids) if self.team_ids is not None else None,
            "channels": list(self.channels) if self.channels is not None else None,
            "updated_since": self.updated_since.isoformat() if self.updated_since else None,
            "operator_ids": list(self.operator_ids) if self.operator_ids is not None else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Query:
        def dt(v: str | None) -> datetime | None:
            return datetime.fromisoformat(v) if v else None

        return cls(
            start=dt(data.get("start")),
            end=dt(data.get("end")),
            team_ids=tuple(data["team_ids"]) if data.get("team_ids") is not None else None,
            channels=tuple(data["channels"]) if data.get("channels") is not None else None,
            updated_since=dt(data.get("updated_since")),
            operator_ids=(
                tuple(data["operator_ids"]) if data.get("operator_ids") is not None else None
            ),
        )


class Dataset:
    name: str = ""
    columns: tuple[Column, ...] = ()
    ordering: tuple[str, ...] = ("pk",)

    def visible_columns(self, pii: bool) -> list[Column]:
        return [c for c in self.columns if pii or not c.pii]

    def queryset(self, user: Any, query: Query, *, pii: bool) -> QuerySet | None:
        """`.values()` rows, or None for a computed dataset (then `rows` is overridden)."""
        raise NotImplementedError

    def row(self, values: dict[str, Any], pii: bool) -> dict[str, Any]:
        raise NotImplementedError

    def rows(self, user: Any, query: Query, *, pii: bool) -> Iterator[dict[str, Any]]:
        qs = self.queryset(user, query, pii=pii)
        if qs is None:
            return
        for values in qs.order_by(*self.ordering).iterator(chunk_size=2000):
            yield self.row(values, pii)

    def count(self, user: Any, query: Query) -> int | None:
        qs = self.queryset(user, query, pii=False)
        return qs.count() if qs is not None else None


def _name(first: str | None, last: str | None, username: str | None) -> str:
    return f"{first or ''} {last or ''}".strip() or (username or "")


def conversation_link(pk: int) -> str:
    return f"{settings.PUBLIC_BASE_URL}/inbox/c/{pk}/"


def _period(qs: QuerySet, field: str, query: Query) -> QuerySet:
    if query.start is not None:
        qs = qs.filter(**{f"{field}__gte": query.start})
    if query.end is not None:
        qs = qs.filter(**{f"{field}__lt": query.end})
    return qs


class Conversations(Dataset):
    name = "conversations"
    ordering = ("updated_at", "pk")
    columns = (
        Column("id", "int"),
        Column("link", "str"),
        Column("customer_id", "int"),
        Column("customer_name", "str", pii=True),
        Column("customer_phone", "str", pii=True),
        Column("customer_email", "str", pii=True),
        Column("channel", "str"),
        Column("inbox", "str"),
        Column("team_id", "int"),
        Column("team", "str"),
        Column("operator_id", "int"),
        Column("operator", "str"),
        Column("first_responder_id", "int"),
        Column("status", "str"),
        Column("topic", "str"),
        Column("created_at", "datetime"),
        Column("first_response_at", "datetime"),
        Column("first_response_seconds", "int"),
        Column("closed_at", "datetime"),
        Column("resolution_seconds", "int"),
        Column("reopen_count", "int"),
        Column("csat_rating", "int"),
        Column("csat_comment", "str"),
        Column("updated_at", "datetime"),
    )
    fields = (
        "pk",
        "customer_id",
        "inbox__kind",
        "inbox__name",
        "team_id",
        "team__name",
        "assignee_id",
        "assignee__first_name",
        "assignee__last_name",
        "assignee__username",
        "analytics_fact__first_responder_id",
        "status",
        "topic",
        "created_at",
        "first_response_at",
        "analytics_fact__first_response_seconds",
        "closed_at",
        "analytics_fact__resolution_seconds",
        "analytics_fact__reopen_count",
        "csat__rating",
        "csat__comment",
        "updated_at",
    )

    def queryset(self, user: Any, query: Query, *, pii: bool) -> QuerySet:
        qs = _period(visible_conversations(user), "created_at", query)
        if query.team_ids is not None:
            qs = qs.filter(team_id__in=query.team_ids)
        if query.operator_ids is not None:
            qs = qs.filter(assignee_id__in=query.operator_ids)
        if query.channels is not None:
            qs = qs.filter(inbox__kind__in=query.channels)
        if query.updated_since is not None:
            qs = qs.filter(
                Q(updated_at__gte=query.updated_since)
                | Q(csat__answered_at__gte=query.updated_since)
            )
        fields = list(self.fields)
        if pii:
            for kind in (Identity.Kind.PHONE, Identity.Kind.EMAIL):
                qs = qs.annotate(
                    **{
                        f"id_{kind}": Subquery(
                            Identity.objects.filter(customer=OuterRef("customer_id"), kind=kind)
                            .order_by("-verified", "pk")
                            .values("value")[:1]
                        )
                    }
                )
                fields.append(f"id_{kind}")
            fields += ["customer__first_name", "customer__last_name"]
        return qs.values(*fields)

    def row(self, v: dict[str, Any], pii: bool) -> dict[str, Any]:
        row = {
            "id": v["pk"],
            "link": conversation_link(v["pk"]),
            "customer_id": v["customer_id"],
        }
        if pii:
            row["customer_name"] = _name(v["customer__first_name"], v["customer__last_name"], "")
            row["customer_phone"] = v.get("id_phone") or ""
            row["customer_email"] = v.get("id_email") or ""
        row.update(
            {
                "channel": v["inbox__kind"],
                "inbox": v["inbox__name"],
                "team_id": v["team_id"],
                "team": v["team__name"] or "",
                "operator_id": v["assignee_id"],
                "operator": _name(
                    v["assignee__first_name"], v["assignee__last_name"], v["assignee__username"]
                ),
                "first_responder_id": v["analytics_fact__first_responder_id"],
                "status": v["status"],
                "topic": v["topic"],
                "created_at": v["created_at"],
                "first_response_at": v["first_response_at"],
                "first_response_seconds": v["analytics_fact__first_response_seconds"],
                "closed_at": v["closed_at"],
                "resolution_seconds": v["analytics_fact__resolution_seconds"],
                "reopen_count": v["analytics_fact__reopen_count"],
                "csat_rating": v["csat__rating"],
                "csat_comment": v["csat__comment"] or "",
                "updated_at": v["updated_at"],
            }
        )
        return row


class Events(Dataset):
    """The audit trail: assignments, transfers, status changes, one row per event."""

    name = "events"
    ordering = ("at", "pk")
    columns = (
        Column("id", "int"),
        Column("conversation_id", "int"),
        Column("type", "str"),
        Column("at", "datetime"),
        Column("actor_id", "int"),
        Column("actor", "str"),
        Column("details", "str"),
    )

    def queryset(self, user: Any, query: Query, *, pii: bool) -> QuerySet:
        qs = ConversationEvent.objects.filter(conversation__in=visible_conversations(user))
        qs = _period(qs, "at", query)
        if query.team_ids is not None:
            qs = qs.filter(conversation__team_id__in=query.team_ids)
        if query.operator_ids is not None:
            qs = qs.filter(conversation__assignee_id__in=query.operator_ids)
        if query.channels is not None:
            qs = qs.filter(conversation__inbox__kind__in=query.channels)
        if query.updated_since is not None:
            qs = qs.filter(at__gte=query.updated_since)
        return qs.values(
            "pk",
            "conversation_id",
            "type",
            "at",
            "actor_id",
            "actor__first_name",
            "actor__last_name",
            "actor__username",
            "data",
        )

    def row(self, v: dict[str, Any], pii: bool) -> dict[str, Any]:
        import json

        return {
            "id": v["pk"],
            "conversation_id": v["conversation_id"],
            "type": v["type"],
            "at": v["at"],
            "actor_id": v["actor_id"],
            "actor": _name(v["actor__first_name"], v["actor__last_name"], v["actor__username"]),
            "details": json.dumps(v["data"] or {}, ensure_ascii=False, sort_keys=True),
        }


class Messages(Dataset):
    """Message metadata, one row per message: never the text."""

    name = "messages"
    ordering = ("created_at", "pk")
    columns = (
        Column("id", "int"),
        Column("conversation_id", "int"),
        Column("channel", "str"),
        Column("kind", "str"),
        Column("author_id", "int"),
        Column("created_at", "datetime"),
        Column("length", "int"),
        Column("attachments", "int"),
        Column("delivery_status", "str"),
        Column("edited_at", "datetime"),
        Column("deleted_at", "datetime"),
    )

    def queryset(self, user: Any, query: Query, *, pii: bool) -> QuerySet:
        qs = Message.objects.filter(conversation__in=visible_conversations(user))
        qs = _period(qs, "created_at", query)
        if query.team_ids is not None:
            qs = qs.filter(conversation__team_id__in=query.team_ids)
        if query.operator_ids is not None:
            qs = qs.filter(conversation__assignee_id__in=query.operator_ids)
        if query.channels is not None:
            qs = qs.filter(inbox__kind__in=query.channels)
        if query.updated_since is not None:
            since = query.updated_since
            qs = qs.filter(
                Q(created_at__gte=since) | Q(edited_at__gte=since) | Q(deleted_at__gte=since)
            )
        return qs.annotate(length=Length("body")).values(
            "pk",
            "conversation_id",
            "inbox__kind",
            "kind",
            "author_id",
            "created_at",
            "length",
            "attachments",
            "delivery_status",
            "edited_at",
            "deleted_at",
        )

    def row(self, v: dict[str, Any], pii: bool) -> dict[str, Any]:
        return {
            "id": v["pk"],
            "conversation_id": v["conversation_id"],
            "channel": v["inbox__kind"],
            "kind": v["kind"],
            "author_id": v["author_id"],
            "created_at": v["created_at"],
            "length": v["length"],
            "attachments": len(v["attachments"] or []),
            "delivery_status": v["delivery_status"],
            "edited_at": v["edited_at"],
            "deleted_at": v["deleted_at"],
        }


class Calls(Dataset):
    """One row per call from `telephony.Call` (#7); empty until telephony is installed."""

    name = "calls"
    ordering = ("started_at", "pk")
    columns = (
        Column("id", "int"),
        Column("queue", "str"),
        Column("operator_id", "int"),
        Column("state", "str"),
        Column("started_at", "datetime"),
        Column("answered_at", "datetime"),
        Column("ended_at", "datetime"),
        Column("wait_seconds", "int"),
        Column("talk_seconds", "int"),
        Column("hold_seconds", "int"),
        Column("wrapup_seconds", "int"),
    )

    def queryset(self, user: Any, query: Query, *, pii: bool) -> QuerySet | None:
        model = call_source.call_model()
        if model is None:
            return None
        from telephony.selectors import visible_calls  # the call gate: a role's scope holds

        qs = _period(visible_calls(user), "started_at", query)
        names = {f.name for f in model._meta.get_fields()}
        if query.team_ids is not None and "team" in names:
            qs = qs.filter(team_id__in=query.team_ids)
        if query.operator_ids is not None:
            qs = qs.filter(operator_id__in=query.operator_ids)
        if query.updated_since is not None and "updated_at" in names:
            qs = qs.filter(updated_at__gte=query.updated_since)
        queue = "queue__name" if model._meta.get_field("queue").is_relation else "queue"
        return qs.values(
            "pk",
            queue,
            "operator_id",
            "state",
            "started_at",
            "answered_at",
            "ended_at",
            "talk_seconds",
            "hold_seconds",
            "wrapup_seconds",
        )

    def row(self, v: dict[str, Any], pii: bool) -> dict[str, Any]:
        answered, ended = v["answered_at"], v["ended_at"]
        until = answered or ended
        return {
            "id": v["pk"],
            "queue": str(v.get("queue__name", v.get("queue")) or ""),
            "operator_id": v["operator_id"],
            "state": v["state"],
            "started_at": v["started_at"],
            "answered_at": answered,
            "ended_at": ended,
            "wait_seconds": (until - v["started_at"]).total_seconds() if until else None,
            "talk_seconds": float(v["talk_seconds"] or 0),
            "hold_seconds": float(v["hold_seconds"] or 0),
            "wrapup_seconds": float(v["wrapup_seconds"] or 0),
        }


class Hourly(Dataset):
    """The hourly chat roll-up rows: sums, so BI can re-aggregate any way exactly."""

    name = "hourly"
    ordering = ("hour", "pk")
    columns = (
        Column("hour", "datetime"),
        Column("team_id", "int"),
        Column("operator_id", "int"),
        Column("channel", "str"),
        Column("topic", "str"),
        *(
            Column(n, "int")  # the `_sum`s are seconds: whole seconds, like every duration
            for n in (
                "arrived",
                "answered",
                "first_response_sum",
                "sl_counted",
                "sl_met",
                "closed",
                "resolution_sum",
                "reopened",
                "csat_count",
                "csat_sum",
                "csat_positive",
            )
        ),
    )

    def queryset(self, user: Any, query: Query, *, pii: bool) -> QuerySet:
        scope = stat_scope(
            user,
            Filters(
                start=query.start or datetime(2000, 1, 1, tzinfo=UTC),
                end=query.end or datetime(9999, 1, 1, tzinfo=UTC),
                team_ids=query.team_ids,
                channels=query.channels,
                operator_ids=query.operator_ids,
            ),
        )
        qs = HourlyChat.objects.filter(hour__gte=scope.start, hour__lt=scope.end)
        if scope.team_ids is not None:
            qs = qs.filter(team_id__in=scope.team_ids)
        if scope.operator_ids is not None:
            qs = qs.filter(operator_id__in=scope.operator_ids)
        if scope.channels is not None:
            qs = qs.filter(channel__in=scope.channels)
        return qs.values("pk", *(c.key for c in self.columns))

    def row(self, v: dict[str, Any], pii: bool) -> dict[str, Any]:
        return {c.key: v[c.key] for c in self.columns}


class Operators(Dataset):
    """Per operator for the period, as on the dashboard (computed from the roll-ups)."""

    name = "operators"
    columns = (
        Column("operator_id", "int"),
        Column("operator", "str"),
        Column("active", "bool"),
        Column("handled", "int"),
        Column("handle_avg_seconds", "int"),
        Column("answered", "int"),
        Column("first_response_avg_seconds", "int"),
        Column("csat_avg", "float", digits=2),
        Column("csat_count", "int"),
        Column("occupancy_percent", "float", digits=1),
        Column("online_seconds", "int"),
        Column("calls_answered", "int"),
        Column("call_handle_avg_seconds", "int"),
    )

    def queryset(self, user: Any, query: Query, *, pii: bool) -> None:
        return None

    def rows(self, user: Any, query: Query, *, pii: bool) -> Iterator[dict[str, Any]]:
        filters = stat_scope(
            user,
            Filters(
                start=query.start or datetime(2000, 1, 1, tzinfo=UTC),
                end=query.end or timezone.now(),
                team_ids=query.team_ids,
                channels=query.channels,
                operator_ids=query.operator_ids,
            ),
        )
        for r in operator_table(filters):
            yield {
                "operator_id": r.operator_id,
                "operator": r.name,
                "active": r.active,
                "handled": r.handled,
                "handle_avg_seconds": r.handle_avg,
                "answered": r.answered,
                "first_response_avg_seconds": r.first_response_avg,
                "csat_avg": r.csat_avg,
                "csat_count": r.csat_count,
                "occupancy_percent": r.occupancy * 100 if r.occupancy is not None else None,
                "online_seconds": r.online_hours * 3600,
                "calls_answered": r.calls_answered,
                "call_handle_avg_seconds": r.call_handle_avg,
            }

    def count(self, user: Any, query: Query) -> int | None:
        return None


DATASETS: dict[str, Dataset] = {
    d.name: d for d in (Conversations(), Events(), Messages(), Calls(), Hourly(), Operators())
}


def may_see_pii(user: Any) -> bool:
    return has_capability(user, Capability.VIEW_CUSTOMER_PII)


# --- what leaves: one shape for the files and the API -----------------------------------------


def _rounded(value: float, digits: int) -> Decimal:
    """Half up, from the shortest decimal spelling of the float (2.675 -> 2.68, not 2.67)."""
    return Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-digits), ROUND_HALF_UP)


def whole(value: float) -> int:
    """Whole units, half away from zero (2.5 -> 3, -2.5 -> -3)."""
    return int(value + 0.5) if value >= 0 else -int(-value + 0.5)


def output_columns(columns: Iterable[Column]) -> list[Column]:
    """The published columns: each datetime `x` as `x_local` (text) and `x_utc` (instant)."""
    out: list[Column] = []
    for c in columns:
        if c.type == "datetime":
            out.append(Column(f"{c.key}_local", "str", c.pii))
            out.append(Column(f"{c.key}_utc", "datetime", c.pii))
        else:
            out.append(c)
    return out


_DATETIME, _INT, _FLOAT, _AS_IS = range(4)


def _steps(columns: Iterable[Column]) -> list[tuple[int, str, int]]:
    kinds = {"datetime": _DATETIME, "int": _INT, "float": _FLOAT}
    return [(kinds.get(c.type, _AS_IS), c.key, c.digits) for c in columns]


def _values(steps: list[tuple[int, str, int]], row: dict[str, Any], tz: tzinfo) -> list[Any]:
    """The published values of one row, in `output_columns` order (the one place where times,
    durations and figures get their published form)."""
    out: list[Any] = []
    append = out.append
    for kind, key, digits in steps:
        value = row.get(key)
        if value is None:
            append(None)
            if kind == _DATETIME:
                append(None)
        elif kind == _AS_IS:
            append(value)
        elif kind == _DATETIME:
            # local: ISO 8601 with the offset, to the second (2026-06-01T12:00:00+03:00)
            append(value.astimezone(tz).isoformat(timespec="seconds"))
            append(value.astimezone(UTC))
        elif kind == _INT:
            append(value if type(value) is int else whole(float(value)))
        else:
            append(float(_rounded(value, digits)))
    return out


def published_values(
    columns: list[Column], rows: Iterable[dict[str, Any]], tz: tzinfo = UTC
) -> Iterator[list[Any]]:
    steps = _steps(columns)
    for row in rows:
        yield _values(steps, row, tz)


def publish_row(columns: list[Column], row: dict[str, Any], tz: tzinfo) -> dict[str, Any]:
    """One dataset row as published: local and UTC times, durations in whole seconds,
    floats rounded to their column's decimals (docs/kpis.md, "Exports")."""
    keys = [c.key for c in output_columns(columns)]
    return dict(zip(keys, _values(_steps(columns), row, tz), strict=True))


def publish(
    columns: list[Column], rows: Iterable[dict[str, Any]], tz: tzinfo = UTC
) -> Iterator[dict[str, Any]]:
    """The rows as published, as dicts (the API); the files take `published_values`."""
    keys = [c.key for c in output_columns(columns)]
    for values in published_values(columns, rows, tz):
        yield dict(zip(keys, values, strict=True))


def export_tz(user: Any) -> ZoneInfo:
    """The time zone of the local-time columns: the requesting user's profile's."""
    return viewer_tz(user)


# --- writers -----------------------------------------------------------------------------------

# What makes a spreadsheet read a cell as a formula (OWASP "CSV injection"), full-width forms
# included; and the control characters an XLSX cell cannot hold.
_FORMULA_START = frozenset("=+-@\uff1d\uff0b\uff0d\uff20")
_CONTROL_START = frozenset("\t\r")
_NUMBER_LIKE = re.compile(r"[+-]?\d[\d ()./-]*")
_XLSX_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
# Texts openpyxl would not store as text on its own: "=…" (a formula), error names ("#N/A").
_XLSX_NOT_TEXT = frozenset(("#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A"))


def spreadsheet_text(text: str) -> str:
    """`text` as a spreadsheet must hold it: never something it runs.

    A text starting with a formula character (`= + - @`), a tab or a CR, leading blanks before
    them included, gets a `'` in front. A number or a phone number (`-12.5`, `+7 916 123-45-00`)
    calls nothing and is left as it is.
    """
    if not text:
        return text
    if text[0] in _CONTROL_START:
        return "'" + text
    head = text.lstrip()
    if head and head[0] in _FORMULA_START and not _NUMBER_LIKE.fullmatch(head):
        return "'" + text
    return text


def _cell_text(value: Any) -> str:
    """A published value as CSV text (spreadsheet-safe)."""
    if value is None:
        return ""
    if type(value) is str:
        return spreadsheet_text(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return str(value)


def _number_text(value: Any) -> str:
    if value is None:
        return ""
    return str(value) if type(value) in (int, float) else _cell_text(value)


def _utc_text(value: Any) -> str:
    return "" if value is None else value.isoformat()  # published: already UTC


def _text_of(column: Column) -> Callable[[Any], str]:
    """How a published column becomes CSV text (every string through `spreadsheet_text`)."""
    if column.type in ("int", "float"):
        return _number_text
    if column.type == "datetime":
        return _utc_text
    return _cell_text


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(
    columns: list[Column], rows: Iterable[dict[str, Any]], tz: tzinfo = UTC
) -> Iterator[str]:
    """The CSV file as lines, produced as the rows come: constant memory. `columns` and `rows`
    are a dataset's; they are published (`publish`) and made safe (`spreadsheet_text`) here."""
    writer = csv.writer(_Echo())
    published = output_columns(columns)
    texts = [_text_of(c) for c in published]
    yield "\ufeff" + writer.writerow([c.key for c in published])  # BOM: Excel reads UTF-8
    for values in published_values(columns, rows, tz):
        yield writer.writerow([text(v) for text, v in zip(texts, values, strict=True)])


def _xlsx_value(sheet: Any, value: Any) -> Any:
    if isinstance(value, str):
        text = spreadsheet_text(value)
        if _XLSX_ILLEGAL.search(text):
            text = _XLSX_ILLEGAL.sub("\ufffd", text)  # XLSX cannot hold them: not a failure
        if text[:1] == "=" or text in _XLSX_NOT_TEXT:
            # openpyxl would store it as a formula or an error: an explicit text cell (after
            # `spreadsheet_text` no "=" is left, this is the belt to its braces).
            from openpyxl.cell import WriteOnlyCell

            cell = WriteOnlyCell(sheet, value=text)
            cell.data_type = "s"
            return cell
        return text  # openpyxl stores any other str as a text cell (t="inlineStr")
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None)  # Excel has no zones: the _utc column
    return value


def write_xlsx(
    out: IO[bytes],
    columns: list[Column],
    rows: Iterable[dict[str, Any]],
    tick: Any = None,
    tz: tzinfo = UTC,
) -> int:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("data")
    sheet.append([_xlsx_value(sheet, c.key) for c in output_columns(columns)])
    n = 0
    for values in published_values(columns, rows, tz):
        sheet.append([_xlsx_value(sheet, v) for v in values])
        n += 1
        if tick is not None and n % BATCH == 0:
            tick(n)
    book.save(out)
    return n


def _arrow_type(kind: str) -> Any:
    import pyarrow as pa

    return {
        "int": pa.int64(),
        "float": pa.float64(),
        "str": pa.string(),
        "bool": pa.bool_(),
        "datetime": pa.timestamp("us", tz="UTC"),
    }[kind]


def write_parquet(
    out: IO[bytes],
    columns: list[Column],
    rows: Iterable[dict[str, Any]],
    tick: Any = None,
    tz: tzinfo = UTC,
) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    published = output_columns(columns)
    schema = pa.schema([(c.key, _arrow_type(c.type)) for c in published])
    n = 0
    with pq.ParquetWriter(out, schema) as writer:
        batch: dict[str, list[Any]] = {c.key: [] for c in published}
        size = 0
        for values in published_values(columns, rows, tz):
            for c, value in zip(published, values, strict=True):
                batch[c.key].append(value)
            size += 1
            if size == BATCH:
                writer.write_batch(pa.RecordBatch.from_pydict(batch, schema=schema))
                n += size
                batch, size = {c.key: [] for c in published}, 0
                if tick is not None:
                    tick(n)
        if size or n == 0:
            writer.write_batch(pa.RecordBatch.from_pydict(batch, schema=schema))
            n += size
    return n


def write_file(
    fmt: str,
    out: IO[bytes],
    columns: list[Column],
    rows: Iterable[dict[str, Any]],
    tick: Any = None,
    tz: tzinfo = UTC,
) -> int:
    """The one path every export file takes (the download API and the background jobs):
    `columns`/`rows` of a dataset in, the published, spreadsheet-safe file out."""
    if fmt == "csv":
        n = -1
        for n, line in enumerate(csv_lines(columns, rows, tz)):
            out.write(line.encode())
            if tick is not None and n and n % BATCH == 0:
                tick(n)
        return max(n, 0)
    if fmt == "xlsx":
        return write_xlsx(out, columns, rows, tick, tz)
    if fmt == "parquet":
        return write_parquet(out, columns, rows, tick, tz)
    raise ValueError(fmt)


def filename(dataset: str, fmt: str, now: datetime | None = None) -> str:
    now = now or timezone.now()
    return f"smartdesk-{dataset}-{now:%Y%m%d-%H%M%S}.{fmt}"


# --- background jobs --------------------------------------------------------------------------


def export_job_create(
    *, user: Any, dataset: str, fmt: str, query: Query, tz: tzinfo | None = None
) -> ExportJob:
    """Queue an export; the task starts after commit. The local-time columns are in `tz`
    (default: the user's time zone now), kept with the filters."""

    from analytics.tasks import run_export

    job = ExportJob.objects.create(
        user=user,
        dataset=dataset,
        format=fmt,
        filters={**query.as_json(), "time_zone": str(tz or export_tz(user))},
        with_pii=may_see_pii(user),
    )
    after_commit(run_export.delay, job.pk, name="run-export")
    return job


def export_job_run(*, job_id: int, progress: Callable[[int], None] | None = None) -> str:
    """Build the file. Claimed with a conditional UPDATE (queued -> running): a task run twice
    builds it once. Progress is written every BATCH rows."""
    claimed = ExportJob.objects.filter(pk=job_id, status=ExportJob.Status.QUEUED).update(
        status=ExportJob.Status.RUNNING
    )
    if claimed != 1:
        return "not queued"
    job = ExportJob.objects.select_related("user").get(pk=job_id)
    dataset = DATASETS[job.dataset]
    query = Query.from_json(job.filters)
    # The capability is checked again: a role changed since the request loses the file.
    pii = job.with_pii and may_see_pii(job.user)
    if not has_capability(job.user, Capability.EXPORT_REPORTS):
        ExportJob.objects.filter(pk=job_id).update(
            status=ExportJob.Status.FAILED, error="no longer allowed", finished_at=timezone.now()
        )
        return "refused"
    try:
        tz: tzinfo = ZoneInfo(job.filters.get("time_zone") or "")
    except (ValueError, KeyError):  # an old job (no zone kept) or a zone since removed
        tz = export_tz(job.user)
    total = dataset.count(job.user, query)
    ExportJob.objects.filter(pk=job_id).update(rows_total=total)

    def tick(n: int) -> None:
        ExportJob.objects.filter(pk=job_id).update(rows_done=n)
        if progress is not None:
            progress(n)

    try:
        with tempfile.TemporaryFile() as out:
            n = write_file(
                job.format,
                out,
                dataset.visible_columns(pii),
                dataset.rows(job.user, query, pii=pii),
                tick,
                tz,
            )
            out.seek(0)
            name = default_storage.save(
                f"exports/{job.pk}/{filename(job.dataset, job.format)}", File(out)
            )
    except Exception as problem:
        ExportJob.objects.filter(pk=job_id).update(
            status=ExportJob.Status.FAILED,
            error=str(problem)[:500],
            finished_at=timezone.now(),
        )
        raise
    ExportJob.objects.filter(pk=job_id).update(
        status=ExportJob.Status.DONE,
        rows_done=n,
        rows_total=n,
        file=name,
        finished_at=timezone.now(),
    )
    return "done"
