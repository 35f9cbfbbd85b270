"""Statistics: per-conversation facts, hourly roll-ups, CSAT answers and export jobs.

The dashboards and the reports API read the roll-ups (`Hourly*`), never raw messages. The
roll-ups are derived data: `analytics.rollups` maintains them incrementally and
`manage.py analytics_rebuild` recomputes them from the records. KPI definitions:
docs/kpis.md.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from chats.models import Conversation


class ConversationFact(models.Model):
    """What the KPIs need to know about one conversation, computed from the conversation and
    its audit events (`analytics.kpis.conversation_fact`). Durations are net of snoozed time.

    Ids of teams and operators are plain integers, not foreign keys: a deactivated operator or
    an archived role stays in every past figure whatever happens to the row.
    """

    conversation = models.OneToOneField(
        Conversation, on_delete=models.CASCADE, primary_key=True, related_name="analytics_fact"
    )
    team_id = models.BigIntegerField(null=True, blank=True)
    operator_id = models.BigIntegerField(null=True, blank=True)  # assignee (at close, or now)
    first_responder_id = models.BigIntegerField(null=True, blank=True)
    inbox_id = models.BigIntegerField()
    channel = models.CharField(max_length=16)
    topic = models.CharField(max_length=100, blank=True)
    deleted = models.BooleanField(default=False)
    arrived_at = models.DateTimeField()
    arrived_hour = models.DateTimeField()
    first_response_at = models.DateTimeField(null=True, blank=True)
    first_response_seconds = models.FloatField(null=True, blank=True)
    # Net seconds the customer waited for the first answer (to it, to the close, or so far).
    wait_seconds = models.FloatField(default=0)
    sl_counted = models.BooleanField(default=False)  # answered, or waited past the threshold
    sl_met = models.BooleanField(default=False)  # answered within the threshold
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_hour = models.DateTimeField(null=True, blank=True)
    resolution_seconds = models.FloatField(null=True, blank=True)
    reopen_count = models.PositiveIntegerField(default=0)
    # Active (open, not snoozed) spans as [[start_iso, end_iso | null], ...], for concurrency.
    active_spans = models.JSONField(default=list)
    active_from = models.DateTimeField()
    active_until = models.DateTimeField(null=True, blank=True)  # null: active now
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name = _("conversation fact")
        verbose_name_plural = _("conversation facts")
        indexes = [
            models.Index(fields=["arrived_hour"], name="fact_arrived_hour"),
            models.Index(fields=["closed_hour"], name="fact_closed_hour"),
            models.Index(fields=["active_from", "active_until"], name="fact_active"),
            models.Index(
                fields=["arrived_at"],
                name="fact_waiting",
                condition=Q(first_response_at__isnull=True, closed_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"fact #{self.conversation_id}"


class HourlyChat(models.Model):
    """Chat figures of one UTC hour for one (team, operator, channel, topic).

    Arrival figures (arrived, answered, first response, service level) are in the hour the
    conversation arrived, with `operator` the first responder; close figures (closed,
    resolution, reopened) in the hour of the final close, with the closing assignee; CSAT in
    the hour the customer answered, with the operator who closed it.
    """

    hour = models.DateTimeField()
    team_id = models.BigIntegerField(null=True, blank=True)
    operator_id = models.BigIntegerField(null=True, blank=True)
    channel = models.CharField(max_length=16)
    topic = models.CharField(max_length=100, blank=True)
    arrived = models.PositiveIntegerField(default=0)
    answered = models.PositiveIntegerField(default=0)
    first_response_sum = models.FloatField(default=0)
    sl_counted = models.PositiveIntegerField(default=0)
    sl_met = models.PositiveIntegerField(default=0)
    closed = models.PositiveIntegerField(default=0)
    resolution_sum = models.FloatField(default=0)
    reopened = models.PositiveIntegerField(default=0)
    csat_count = models.PositiveIntegerField(default=0)
    csat_sum = models.PositiveIntegerField(default=0)
    csat_positive = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("hourly chat figures")
        verbose_name_plural = _("hourly chat figures")
        indexes = [
            models.Index(fields=["hour", "team_id"], name="hchat_hour_team"),
            models.Index(fields=["operator_id", "hour"], name="hchat_operator"),
        ]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}:00 {self.channel}"


class HourlyActivity(models.Model):
    """Concurrency: conversation-seconds of active (open, not snoozed) chats in one UTC hour,
    per team and channel. Divided by 3600 it is the hour's average number of concurrent
    chats."""

    hour = models.DateTimeField()
    team_id = models.BigIntegerField(null=True, blank=True)
    channel = models.CharField(max_length=16)
    active_seconds = models.FloatField(default=0)

    class Meta:
        verbose_name = _("hourly activity")
        verbose_name_plural = _("hourly activity")
        indexes = [models.Index(fields=["hour", "team_id"], name="hact_hour_team")]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}:00 {self.channel}"


class HourlyCall(models.Model):
    """Call figures of one UTC hour (the hour the call entered the queue) for one
    (queue, team, operator). Filled from `telephony.Call` when that model exists
    (`analytics.calls`)."""

    hour = models.DateTimeField()
    queue = models.CharField(max_length=100, blank=True)
    team_id = models.BigIntegerField(null=True, blank=True)
    operator_id = models.BigIntegerField(null=True, blank=True)
    offered = models.PositiveIntegerField(default=0)  # short abandons excluded
    answered = models.PositiveIntegerField(default=0)
    abandoned = models.PositiveIntegerField(default=0)  # short abandons excluded
    short_abandoned = models.PositiveIntegerField(default=0)
    answered_in_sl = models.PositiveIntegerField(default=0)
    abandoned_in_sl = models.PositiveIntegerField(default=0)
    answer_wait_sum = models.FloatField(default=0)
    talk_sum = models.FloatField(default=0)
    hold_sum = models.FloatField(default=0)
    wrapup_sum = models.FloatField(default=0)
    call_seconds = models.FloatField(default=0)  # queue + talk time inside the hour: load

    class Meta:
        verbose_name = _("hourly call figures")
        verbose_name_plural = _("hourly call figures")
        indexes = [models.Index(fields=["hour", "team_id"], name="hcall_hour_team")]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}:00 {self.queue}"


class HourlyPresence(models.Model):
    """Operator time, sampled once a minute: online seconds, the capacity they offered
    (slot-seconds) and the part of it in use (load-seconds). Occupancy = load / slots."""

    hour = models.DateTimeField()
    operator_id = models.BigIntegerField()
    online_seconds = models.PositiveIntegerField(default=0)
    slot_seconds = models.PositiveIntegerField(default=0)
    load_seconds = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("hourly operator presence")
        verbose_name_plural = _("hourly operator presence")
        constraints = [
            models.UniqueConstraint(fields=["hour", "operator_id"], name="hpres_one_per_hour")
        ]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}:00 #{self.operator_id}"


class RollupState(models.Model):
    """One row: how far the incremental roll-up has got. Its row lock serialises runs."""

    watermark = models.DateTimeField(null=True, blank=True)
    presence_sampled_at = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_run_hours = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("roll-up state")
        verbose_name_plural = _("roll-up state")

    def __str__(self) -> str:
        return f"{self.watermark}"


class CsatResponse(models.Model):
    """The satisfaction survey of one conversation: asked after it closed, answered (1–5 and
    an optional comment) by the customer in their channel. Who handled it is stamped at the
    close, so the rating reaches that operator's and team's figures whatever happens later."""

    conversation = models.OneToOneField(
        Conversation,
        on_delete=models.CASCADE,
        related_name="csat",
        verbose_name=_("conversation"),
    )
    team_id = models.BigIntegerField(null=True, blank=True)
    operator_id = models.BigIntegerField(null=True, blank=True)
    channel = models.CharField(_("channel"), max_length=16)
    topic = models.CharField(_("topic"), max_length=100, blank=True)
    requested_at = models.DateTimeField(_("asked at"))
    delivery = models.CharField(_("delivery"), max_length=200, blank=True)
    rating = models.PositiveSmallIntegerField(_("rating"), null=True, blank=True)
    comment = models.TextField(_("comment"), blank=True)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)

    class Meta:
        verbose_name = _("satisfaction survey")
        verbose_name_plural = _("satisfaction surveys")
        indexes = [models.Index(fields=["answered_at"], name="csat_answered")]
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(rating__gte=1, rating__lte=5),
                name="csat_rating_1_to_5",
            ),
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(answered_at__isnull=False),
                name="csat_rating_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"CSAT #{self.conversation_id}: {self.rating or '—'}"


class ExportJob(models.Model):
    """A large export built by a task: progress while it runs, a download link after."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        DONE = "done", _("ready")
        FAILED = "failed", _("failed")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("who")
    )
    dataset = models.CharField(_("dataset"), max_length=32)
    format = models.CharField(_("format"), max_length=8)
    filters = models.JSONField(_("filters"), default=dict, blank=True)
    with_pii = models.BooleanField(_("with personal data"), default=False)
    status = models.CharField(
        _("status"), max_length=8, choices=Status.choices, default=Status.QUEUED
    )
    rows_done = models.PositiveBigIntegerField(_("rows written"), default=0)
    rows_total = models.PositiveBigIntegerField(_("rows in all"), null=True, blank=True)
    file = models.CharField(_("file"), max_length=300, blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("export")
        verbose_name_plural = _("exports")

    def __str__(self) -> str:
        return f"{self.dataset}.{self.format} ({self.status})"

    @property
    def progress_percent(self) -> int | None:
        if not self.rows_total:
            return 100 if self.status == self.Status.DONE else None
        return min(100, int(self.rows_done * 100 / self.rows_total))


# --- AI: summaries, trends and anomalies (docs/ai.md) -----------------------------------------


class ConversationSummary(models.Model):
    """The hand-over card of a conversation as it was stored for the record (on close; the
    thread page shows a fresh one while the conversation is open). One per conversation: a
    reopened and closed again conversation gets its summary rewritten."""

    class Source(models.TextChoices):
        OFFLINE = "offline", _("offline card")
        LLM = "llm", _("language model")

    conversation = models.OneToOneField(
        Conversation,
        on_delete=models.CASCADE,
        related_name="ai_summary",
        verbose_name=_("conversation"),
    )
    text = models.TextField(_("summary"))
    lang = models.CharField(_("language"), max_length=2)
    source = models.CharField(_("written by"), max_length=8, choices=Source.choices)
    label = models.CharField(_("label"), max_length=32, blank=True)
    topics = models.JSONField(_("topics"), default=list, blank=True)
    facts = models.JSONField(_("facts"), default=dict, blank=True)
    messages_seen = models.PositiveIntegerField(_("messages summarised"), default=0)
    updated_at = models.DateTimeField(_("updated at"))

    class Meta:
        verbose_name = _("conversation summary")
        verbose_name_plural = _("conversation summaries")

    def __str__(self) -> str:
        return f"summary #{self.conversation_id}"


class AnomalyAlert(models.Model):
    """One spike of contacts in one segment (a topic, a label, a channel, a team or a city):
    the hour it was seen, observed against expected. The cooldown per segment makes one spike
    one alert (`analytics.ai.trends.anomaly_check`)."""

    class Dimension(models.TextChoices):
        ALL = "all", _("all contacts")
        LABEL = "label", _("label")
        TOPIC = "topic", _("topic")
        CHANNEL = "channel", _("channel")
        TEAM = "team", _("team")
        CITY = "city", _("city")

    dimension = models.CharField(_("segment kind"), max_length=8, choices=Dimension.choices)
    value = models.CharField(_("segment"), max_length=100, blank=True)
    hour = models.DateTimeField(_("hour"))
    observed = models.PositiveIntegerField(_("observed"))
    expected = models.FloatField(_("expected"))
    p_value = models.FloatField(_("p-value"))
    raised_at = models.DateTimeField(_("raised at"))
    webhook_status = models.CharField(_("webhook"), max_length=100, blank=True)

    class Meta:
        ordering = ["-hour", "-raised_at"]
        verbose_name = _("anomaly alert")
        verbose_name_plural = _("anomaly alerts")
        constraints = [
            models.UniqueConstraint(
                fields=["dimension", "value", "hour"], name="anomaly_one_per_segment_hour"
            )
        ]
        indexes = [models.Index(fields=["dimension", "value", "-hour"], name="anomaly_segment")]

    def __str__(self) -> str:
        return f"{self.dimension}={self.value} {self.hour:%Y-%m-%d %H}:00"

    @property
    def ratio(self) -> float:
        return self.observed / self.expected if self.expected else float("inf")
