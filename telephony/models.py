"""Telephony: the PBXs we listen to, the calls built from their AMI events, the raw events
kept for audit and replay, who was rung, and the dialplan's routing rules.

Field names of `Call` are a contract: the statistics compute the call KPIs from them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Pbx(models.Model):
    """An Asterisk server reached over AMI. The secret is write-only in every screen."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    host = models.CharField(_("AMI host"), max_length=255, default="127.0.0.1")
    port = models.PositiveIntegerField(_("AMI port"), default=5038)
    username = models.CharField(_("AMI user"), max_length=100)
    # AMI logins need the secret itself (plain or MD5 challenge), so it cannot be hashed.
    secret = models.CharField(_("AMI secret"), max_length=255)
    is_active = models.BooleanField(_("active"), default=True)
    originate_context = models.CharField(
        _("click-to-call context"),
        max_length=80,
        default="from-smartdesk",
        help_text=_("Dialplan context an operator's click-to-call is sent to."),
    )
    dial_prefix = models.CharField(
        _("dial prefix"),
        max_length=16,
        blank=True,
        help_text=_("Prepended to the customer's E.164 digits for click-to-call, e.g. 00."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("PBX")
        verbose_name_plural = _("PBXs")

    def __str__(self) -> str:
        return self.name


class Call(models.Model):
    """One call: every leg Asterisk links under one `Linkedid`."""

    class State(models.TextChoices):
        RINGING = "ringing", _("ringing")
        QUEUED = "queued", _("in the queue")
        ANSWERED = "answered", _("answered")
        ABANDONED = "abandoned", _("abandoned")
        COMPLETED = "completed", _("completed")
        MISSED = "missed", _("missed")
        # A click-to-call the PBX could not place (OriginateResponse "Failure"): the
        # operator's own phone was busy, did not answer or could not be reached.
        FAILED = "failed", _("failed")

    class Direction(models.TextChoices):
        INBOUND = "inbound", _("inbound")
        OUTBOUND = "outbound", _("outbound")

    FINAL_STATES = (State.ABANDONED, State.COMPLETED, State.MISSED, State.FAILED)

    pbx = models.ForeignKey(Pbx, on_delete=models.PROTECT, related_name="calls")
    # Linkedid: the Uniqueid of the oldest channel, shared by every leg; the call's id.
    linkedid = models.CharField(_("linked id"), max_length=150)
    # Uniqueid of the call's first channel (the caller's leg; equal to linkedid in practice).
    uniqueid = models.CharField(_("unique id"), max_length=150, blank=True)
    direction = models.CharField(
        _("direction"), max_length=8, choices=Direction.choices, default=Direction.INBOUND
    )
    # The customer's number (caller of an inbound call, callee of an outbound one), E.164 when
    # it is a valid number; `caller_raw` keeps what the PBX said.
    caller = models.CharField(_("caller"), max_length=32, blank=True, db_index=True)
    caller_raw = models.CharField(_("caller as received"), max_length=80, blank=True)
    caller_name = models.CharField(_("caller name"), max_length=150, blank=True)
    did = models.CharField(_("dialled number"), max_length=32, blank=True)
    customer = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="calls",
        verbose_name=_("customer"),
    )
    queue = models.CharField(_("queue"), max_length=80, blank=True, db_index=True)
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="calls",
        verbose_name=_("operator"),
    )
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.RINGING
    )
    started_at = models.DateTimeField(_("started at"), db_index=True)
    queued_at = models.DateTimeField(_("queued at"), null=True, blank=True)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    # Queue wait before an agent connected (AgentConnect HoldTime) or before the caller gave up
    # (QueueCallerAbandon HoldTime); for a direct call, the ringing before the answer.
    hold_seconds = models.PositiveIntegerField(_("hold time (s)"), null=True, blank=True)
    talk_seconds = models.PositiveIntegerField(_("talk time (s)"), null=True, blank=True)
    wrapup_seconds = models.PositiveIntegerField(_("wrap-up time (s)"), null=True, blank=True)
    # The operator is busy for chats until then; the release is claimed once (`wrapup_done`).
    wrapup_until = models.DateTimeField(_("wrap-up until"), null=True, blank=True)
    wrapup_done = models.BooleanField(_("wrap-up over"), default=False)
    note = models.TextField(_("note"), blank=True)
    note_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("note by"),
    )
    # The conversation opened from this call ("Open a follow-up conversation"): a second click
    # opens it again instead of creating another.
    follow_up_conversation = models.ForeignKey(
        "chats.Conversation",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("follow-up conversation"),
    )
    # Who asked for a click-to-call (set before the PBX reports the first event).
    originated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("originated by"),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-started_at", "-pk"]
        verbose_name = _("call")
        verbose_name_plural = _("calls")
        constraints = [
            models.UniqueConstraint(fields=["pbx", "linkedid"], name="call_unique_linkedid"),
            models.CheckConstraint(
                condition=models.Q(
                    state__in=[
                        "ringing",
                        "queued",
                        "answered",
                        "abandoned",
                        "completed",
                        "missed",
                        "failed",
                    ]
                ),
                name="call_state_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "-started_at"], name="call_customer_recent"),
            models.Index(fields=["operator", "-started_at"], name="call_operator_recent"),
            models.Index(
                fields=["wrapup_until"],
                condition=models.Q(wrapup_done=False, wrapup_until__isnull=False),
                name="call_wrapup_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.caller or self.caller_raw or '?'} {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def is_over(self) -> bool:
        return self.state in self.FINAL_STATES


class CallOffer(models.Model):
    """An operator rung for a call (queue member or a direct dial): who saw the screen-pop."""

    class Outcome(models.TextChoices):
        RINGING = "ringing", _("ringing")
        ANSWERED = "answered", _("answered")
        NO_ANSWER = "no_answer", _("not answered")
        BUSY = "busy", _("busy")
        CANCELLED = "cancelled", _("cancelled")

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="offers")
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="call_offers"
    )
    offered_at = models.DateTimeField(_("offered at"))
    outcome = models.CharField(
        _("outcome"), max_length=10, choices=Outcome.choices, default=Outcome.RINGING
    )
    # AgentRingNoAnswer's RingTime is in milliseconds (HoldTime/TalkTime are seconds).
    ring_ms = models.PositiveIntegerField(_("ring time (ms)"), null=True, blank=True)

    class Meta:
        verbose_name = _("call offer")
        verbose_name_plural = _("call offers")
        constraints = [
            models.UniqueConstraint(fields=["call", "operator"], name="calloffer_once"),
        ]

    def __str__(self) -> str:
        return f"{self.operator_id} {self.get_outcome_display()}"


class CallEvent(models.Model):
    """A raw AMI event as received, for audit and replay. Unique per call and content, so a
    replay of the same event stores and changes nothing."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="events")
    name = models.CharField(_("event"), max_length=40)
    uniqueid = models.CharField(_("unique id"), max_length=150, blank=True)
    fingerprint = models.CharField(_("fingerprint"), max_length=64)
    fields = models.JSONField(_("fields"))
    received_at = models.DateTimeField(_("received at"))

    class Meta:
        ordering = ["pk"]
        verbose_name = _("call event")
        verbose_name_plural = _("call events")
        constraints = [
            models.UniqueConstraint(
                fields=["call", "uniqueid", "fingerprint"], name="callevent_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.uniqueid}"


class RouteRule(models.Model):
    """One line of the dialplan's routing: the first active rule (by position) that matches
    the caller decides the queue; none matching gives the default queue."""

    class Kind(models.TextChoices):
        LOYALTY_TIER = "loyalty_tier", _("loyalty tier at least")
        OPEN_TOPIC = "open_topic", _("has an open conversation on a topic")
        LANGUAGE = "language", _("customer's language")
        DID = "did", _("dialled number")
        DEFAULT = "default", _("everyone (default)")

    position = models.PositiveIntegerField(_("position"), default=100)
    kind = models.CharField(_("condition"), max_length=16, choices=Kind.choices)
    tier = models.ForeignKey(
        "customers.LoyaltyTier",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("loyalty tier"),
        help_text=_("For “loyalty tier”: this tier or a higher one."),
    )
    value = models.CharField(
        _("value"),
        max_length=100,
        blank=True,
        help_text=_(
            "For “topic”: the conversation topic (e.g. complaint); for “language”: a "
            "language code (e.g. en); for “dialled number”: the number."
        ),
    )
    queue = models.CharField(
        _("queue"), max_length=80, help_text=_("The Asterisk queue the call goes to.")
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["position", "pk"]
        verbose_name = _("call routing rule")
        verbose_name_plural = _("call routing rules")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.value or self.tier or ''} → {self.queue}"
