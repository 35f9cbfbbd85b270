"""Trends and anomalies over contacts: hourly counts per segment, the spike check the beat
runs, the alerts it raises (live to admins, on the statistics page, on a webhook) and the
week-over-week topic volumes of the statistics page. docs/ai.md, "Trends and anomalies".

A segment is one slice of the contacts: all of them, a label (from the classifier), a topic,
a channel, a team, or a city (from the address of the customer's latest order). The detector
itself is `analytics.ai.anomaly.detect`, a pure function over the counts.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, NullIf, TruncHour
from django.utils import timezone

from analytics.ai.anomaly import DEFAULT, WEEK, DetectorConfig, detect
from analytics.models import AnomalyAlert
from chats.models import Conversation
from customers.models import Order
from smartdesk.core.oncommit import after_commit
from smartdesk.core.realtime import ADMINS_GROUP, publish

logger = logging.getLogger(__name__)

Segment = tuple[str, str]  # (dimension, value)

# "г. Казань, ул. …", "Kazan, 5 Baker Street", "Москва, …": the first part of the address,
# when it is a place name (letters, maybe a "г."/"city of" prefix), not a street.
_CITY = re.compile(
    r"^\s*(?:г\.\s*|город\s+|city of\s+)?"
    r"(?P<city>[A-ZА-ЯЁ][a-zа-яё]+(?:[ -][A-ZА-ЯЁ][a-zа-яё]+)?)\s*,"
)
_NOT_CITY = re.compile(
    r"^(?:ул|улица|пр|проспект|пер|переулок|ш|шоссе|бульвар|наб|площадь|дом|кв|street|avenue|road)\b",
    re.IGNORECASE,
)


def city_of(address: str) -> str:
    """The city an order's address starts with ("" when it does not say)."""
    m = _CITY.match(address or "")
    if not m or _NOT_CITY.match(m.group("city")):
        return ""
    return m.group("city")


def hour_floor(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _labels() -> Any:
    """The label of each conversation as the classifier stored it (an operator's correction
    first), as a subquery expression."""
    from analytics.ai.models import Classification

    return Subquery(
        Classification.objects.filter(conversation_id=OuterRef("pk"))
        .annotate(shown=Coalesce(NullIf("corrected_label", Value("")), "label"))
        .values("shown")[:1]
    )


def segment_counts(*, start: datetime, end: datetime) -> dict[Segment, dict[datetime, int]]:
    """Contacts (conversations, by when they arrived) per segment and UTC hour in [start, end).
    Deleted conversations count: they arrived."""
    city = Subquery(
        Order.objects.filter(customer_id=OuterRef("customer_id"))
        .order_by("-placed_at")
        .values("address")[:1]
    )
    rows = Conversation.objects.filter(created_at__gte=start, created_at__lt=end).annotate(
        hour=TruncHour("created_at"), address=city
    )
    fields = ["hour", "inbox__kind", "team_id", "topic", "address", "ai_label"]
    rows = rows.annotate(ai_label=_labels())
    counts: dict[Segment, dict[datetime, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows.values(*fields).annotate(n=Count("pk")).order_by():
        hour, n = row["hour"], row["n"]
        for segment in _segments_of(row):
            counts[segment][hour] += n
    return counts


def _segments_of(row: dict[str, Any]) -> Iterable[Segment]:
    yield ("all", "")
    yield ("channel", row["inbox__kind"])
    if row["team_id"]:
        yield ("team", str(row["team_id"]))
    if row["topic"]:
        yield ("topic", row["topic"])
    if row.get("ai_label"):
        yield ("label", row["ai_label"])
    city = city_of(row.get("address") or "")
    if city:
        yield ("city", city)


@dataclass(frozen=True)
class Raised:
    alert: AnomalyAlert
    created: bool


def anomaly_check(
    *, now: datetime | None = None, config: DetectorConfig = DEFAULT
) -> list[AnomalyAlert]:
    """The beat's check: the hour that just ended and the one running now (its count so far
    against a whole hour's expectation), for every segment. Raises one alert per spike
    (cooldown per segment); safe to run any number of times."""
    now = now or timezone.now()
    current = hour_floor(now)
    tested = [current - timedelta(hours=1), current]
    start = current - timedelta(hours=WEEK * config.weeks + 1)
    counts = segment_counts(start=start, end=now)
    raised = []
    for segment, by_hour in sorted(counts.items()):
        for hour in tested:
            observed = by_hour.get(hour, 0)
            if observed < config.min_count:
                continue
            hours = int((hour - start) / timedelta(hours=1))
            history = [by_hour.get(start + timedelta(hours=i), 0) for i in range(hours)]
            verdict = detect(history, observed, config)
            if not verdict.anomalous:
                continue
            alert = anomaly_alert_raise(
                segment=segment,
                hour=hour,
                observed=observed,
                expected=verdict.expected,
                p_value=verdict.p_value,
                cooldown_hours=settings.AI_ANOMALY_COOLDOWN_HOURS,
                now=now,
            )
            if alert is not None:
                raised.append(alert)
    return raised


def anomaly_alert_raise(
    *,
    segment: Segment,
    hour: datetime,
    observed: int,
    expected: float,
    p_value: float,
    cooldown_hours: int,
    now: datetime,
) -> AnomalyAlert | None:
    """Store one alert unless the segment raised one within the cooldown; emits
    `anomaly.alert` to the admins and queues the webhook on commit. None when suppressed."""
    dimension, value = segment
    try:
        with transaction.atomic():
            _lock_segment(dimension, value)
            recent = AnomalyAlert.objects.filter(
                dimension=dimension,
                value=value,
                hour__gt=hour - timedelta(hours=cooldown_hours),
            )
            if recent.exists():
                return None
            alert = AnomalyAlert.objects.create(
                dimension=dimension,
                value=value,
                hour=hour,
                observed=observed,
                expected=round(expected, 3),
                p_value=p_value,
                raised_at=now,
            )
            publish(alert_event(alert), groups=[ADMINS_GROUP])
            if settings.AI_ALERT_WEBHOOK_URL:
                from analytics.tasks import send_anomaly_webhook

                after_commit(send_anomaly_webhook.delay, alert.pk, name="anomaly-webhook")
    except IntegrityError:  # another check raised this very one a moment ago
        return None
    return alert


def _lock_segment(dimension: str, value: str) -> None:
    """Serialise alerts of one segment (two checks running at once must not both pass the
    cooldown): a transaction-scoped advisory lock on PostgreSQL; SQLite has one writer."""
    if connection.vendor != "postgresql":
        return
    digest = hashlib.blake2b(f"anomaly:{dimension}:{value}".encode(), digest_size=8).digest()
    key = int.from_bytes(digest, "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def segment_name(dimension: str, value: str) -> str:
    """A segment as people read it: the team's name, the channel's label, the topic."""
    from accounts.models import Team
    from chats.models import Inbox

    if dimension == "all":
        return str(AnomalyAlert.Dimension.ALL.label)
    if dimension == "team" and value.isdigit():
        team = Team.objects.filter(pk=int(value)).values_list("name", flat=True).first()
        return team or value
    if dimension == "channel":
        return str(dict(Inbox.Kind.choices).get(value, value))
    return value


def alert_event(alert: AnomalyAlert) -> dict[str, Any]:
    """The live event: flat, for the admins' group."""
    return {
        "type": "anomaly.alert",
        "alert_id": alert.pk,
        "dimension": alert.dimension,
        "value": alert.value,
        "segment": segment_name(alert.dimension, alert.value),
        "hour": alert.hour.isoformat(),
        "observed": alert.observed,
        "expected": round(alert.expected, 1),
    }


def anomaly_webhook_send(*, alert_id: int) -> str:
    """POST the alert as JSON to `AI_ALERT_WEBHOOK_URL`; the outcome is kept on the alert.
    Sent once: an alert whose webhook already answered 2xx is left alone."""
    alert = AnomalyAlert.objects.filter(pk=alert_id).first()
    url = settings.AI_ALERT_WEBHOOK_URL
    if alert is None or not url or alert.webhook_status.startswith("sent"):
        return "skipped"
    event = alert_event(alert)
    name = event["segment"] or alert.dimension
    body = {
        "text": (
            f"Smartdesk: spike in {alert.dimension} “{name}”: {alert.observed} contacts in the "
            f"hour from {alert.hour:%Y-%m-%d %H}:00 UTC, {alert.expected:.1f} expected"
        ),
        "alert": event,
    }
    request = urllib.request.Request(  # noqa: S310 - the admin's URL, http(s) checked at start-up
        url,
        data=json.dumps(body, ensure_ascii=False).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(  # noqa: S310
            request, timeout=settings.AI_ALERT_WEBHOOK_TIMEOUT_SECONDS
        ) as response:
            status = f"sent {response.status}"
    except urllib.error.HTTPError as exc:
        status = f"failed: HTTP {exc.code}"
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        status = f"failed: {getattr(exc, 'reason', exc)}"[:100]
    AnomalyAlert.objects.filter(pk=alert_id).update(webhook_status=status)
    return status


# --- what the statistics page shows -----------------------------------------------------------


def visible_alerts(user: Any) -> QuerySet[AnomalyAlert]:
    """The alerts `user` may see, by their role's scope: scope `all` every alert; scope `teams`
    the alerts of their own teams' segments only (a segment of all contacts, a channel, a
    topic, a label or a city spans every team, so it would tell about the others); scope
    `assigned` none."""
    from accounts.access import scope_of
    from accounts.models import Role, Team

    scope = scope_of(user)
    alerts = AnomalyAlert.objects.all()
    if scope == Role.Scope.ALL:
        return alerts
    if scope == Role.Scope.TEAMS:
        mine = Team.objects.filter(members__user_id=user.pk).values_list("pk", flat=True)
        return alerts.filter(
            dimension=AnomalyAlert.Dimension.TEAM, value__in=[str(pk) for pk in mine]
        )
    return alerts.none()


def recent_alerts(*, user: Any, limit: int = 10) -> list[dict[str, Any]]:
    """The newest alerts `user` may see, as rows for the statistics page."""
    return [
        {
            "alert": alert,
            "segment": segment_name(alert.dimension, alert.value),
            "ratio": alert.ratio,
        }
        for alert in visible_alerts(user)[:limit]
    ]


def topic_trends(
    *,
    now: datetime | None = None,
    limit: int = 10,
    conversations: QuerySet[Conversation] | None = None,
) -> list[dict[str, Any]]:
    """Contacts per topic in the last 7 days against the 7 days before, busiest first, among
    `conversations` (the page passes those the viewer may see; every one by default)."""
    now = now or timezone.now()
    week_ago = now - timedelta(days=7)
    two_weeks_ago = now - timedelta(days=14)
    source = Conversation.objects.all() if conversations is None else conversations
    rows = (
        source.filter(created_at__gte=two_weeks_ago, created_at__lt=now)
        .exclude(topic="")
        .values("topic")
        .annotate(
            this_week=Count("pk", filter=Q(created_at__gte=week_ago)),
            last_week=Count("pk", filter=Q(created_at__lt=week_ago)),
        )
        .order_by("-this_week", "topic")[:limit]
    )
    out = []
    for row in rows:
        now_n, before_n = row["this_week"], row["last_week"]
        change = None if before_n == 0 else round((now_n - before_n) * 100 / before_n)
        out.append(
            {"topic": row["topic"], "this_week": now_n, "last_week": before_n, "change": change}
        )
    return out
