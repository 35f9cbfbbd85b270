"""Conversations, and the indexes that hold every list order the UI and the API offer."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Team
from chats.models.base import SoftDeleted
from chats.models.inboxes import Inbox
from customers.models import Customer


def _list_order_indexes() -> list[models.Index]:
    """The list-order indexes of `Conversation` (see its Meta)."""
    live = Q(deleted_at__isnull=True)
    active = Q(status__in=["open", "snoozed"], deleted_at__isnull=True)
    snoozed = Q(status="snoozed", deleted_at__isnull=True)
    deleted = Q(deleted_at__isnull=False)
    # The working order of the active lists: most urgent, longest waiting, latest message.
    working = (
        models.F("priority").desc(),
        models.F("waiting_since").asc(nulls_last=True),
        models.F("last_message_at").desc(nulls_last=True),
        "id",
    )
    # Closed and deleted lists: latest closed first.
    latest_closed = (models.F("closed_at").desc(nulls_last=True), models.F("id").desc())
    # `mine` (UI and API) and an operator's `team`/`queue` need none of their own: the
    # planner narrows them through `conv_assignee`, `conv_snooze_due` or `conv_queue_order` to
    # the few active rows of one operator or team and sorts those (tests/chats/
    # test_list_indexes.py shows each plan).
    return [
        # UI: `all` (and `team` read in order, filtered by team) -- built by migration 0003.
        models.Index(*working, name="conv_active_order", condition=active),
        models.Index(
            *working, name="conv_unassigned_order", condition=active & Q(assignee__isnull=True)
        ),
        models.Index(*working, name="conv_snoozed_order", condition=snoozed),
        models.Index(*latest_closed, name="conv_closed_order", condition=live & Q(status="closed")),
        models.Index(*latest_closed, name="conv_deleted_order", condition=deleted),
        # UI search: latest message first, among the matches.
        models.Index(
            models.F("last_message_at").desc(nulls_last=True),
            models.F("id").desc(),
            name="conv_recent_order",
            condition=live,
        ),
        # API cursor: no view / `closed` / any filter; incremental pulls by updated_at. Read
        # backwards, (created_at, id) serves newest-first as well as oldest-first.
        models.Index("created_at", "id", name="conv_created_order", condition=live),
        models.Index("updated_at", "id", name="conv_updated_order", condition=live),
        # API cursor within a view (`all`, `team`, `queue`; `snoozed`; `deleted`).
        models.Index("created_at", "id", name="conv_active_created", condition=active),
        models.Index("created_at", "id", name="conv_snoozed_created", condition=snoozed),
        models.Index("created_at", "id", name="conv_deleted_created", condition=deleted),
    ]


class Conversation(SoftDeleted):
    class Status(models.TextChoices):
        OPEN = "open", _("open")
        SNOOZED = "snoozed", _("snoozed")
        CLOSED = "closed", _("closed")

    class Priority(models.IntegerChoices):
        NORMAL = 0, _("normal")
        HIGH = 1, _("high")
        URGENT = 2, _("urgent")

    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="conversations", verbose_name=_("customer")
    )
    inbox = models.ForeignKey(
        Inbox, on_delete=models.PROTECT, related_name="conversations", verbose_name=_("inbox")
    )
    team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="conversations",
        verbose_name=_("team"),
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assigned_conversations",
        verbose_name=_("assignee"),
    )
    status = models.CharField(
        _("status"), max_length=8, choices=Status.choices, default=Status.OPEN
    )
    priority = models.PositiveSmallIntegerField(
        _("priority"), choices=Priority.choices, default=Priority.NORMAL
    )
    topic = models.CharField(_("topic"), max_length=100, blank=True)
    # Snooze: until a time, until the customer replies, or both (whichever comes first).
    # A time with `snooze_until_reply` off sleeps through replies until the time.
    snoozed_until = models.DateTimeField(_("snoozed until"), null=True, blank=True)
    snooze_until_reply = models.BooleanField(_("wake on customer reply"), default=False)
    snooze_reason = models.CharField(_("snooze reason"), max_length=200, blank=True)
    # When the customer started waiting for an answer (null: nobody is waiting on us).
    waiting_since = models.DateTimeField(_("waiting since"), null=True, blank=True)
    first_response_at = models.DateTimeField(_("first response at"), null=True, blank=True)
    last_message_at = models.DateTimeField(_("last message at"), null=True, blank=True)
    last_message_preview = models.CharField(_("last message"), max_length=200, blank=True)
    unread_count = models.PositiveIntegerField(_("unread"), default=0)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    # When this close's undo window passed and its `conversation_closed` was sent (the claim
    # in chats.services.close_undo); NULL while a close still waits for it.
    close_settled_at = models.DateTimeField(_("close settled at"), null=True, blank=True)
    # Distribution (docs/distribution.md): what the conversation weighs in its operator's load
    # (per channel, stamped on arrival), the skill its topic requires, when it entered its
    # team's queue and when it was last given to someone.
    load_weight = models.PositiveSmallIntegerField(_("load weight"), default=1)
    required_skill = models.ForeignKey(
        "accounts.Skill",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("required skill"),
    )
    queued_at = models.DateTimeField(_("queued at"), null=True, blank=True)
    assigned_at = models.DateTimeField(_("assigned at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        indexes = [
            # The team queues, in the order they are served.
            models.Index(
                "team",
                models.F("priority").desc(),
                "queued_at",
                "id",
                name="conv_queue_order",
                condition=Q(status="open", assignee__isnull=True, deleted_at__isnull=True),
            ),
            models.Index(
                models.F("priority").desc(),
                "queued_at",
                "id",
                name="conv_queue_all",
                condition=Q(
                    status="open",
                    assignee__isnull=True,
                    deleted_at__isnull=True,
                    team__isnull=False,
                ),
            ),
            models.Index(fields=["team", "status", "-last_message_at"], name="conv_team_status"),
            models.Index(fields=["assignee", "status", "-last_message_at"], name="conv_assignee"),
            models.Index(fields=["status", "snoozed_until"], name="conv_snooze_due"),
            models.Index(fields=["customer", "-created_at"], name="conv_customer"),
            # The close-settle sweep (chats.services.close_undo): closes not yet settled.
            models.Index(
                "closed_at",
                "id",
                name="conv_close_unsettled",
                condition=Q(status="closed", close_settled_at__isnull=True),
            ),
            # Every list order the UI and the API offer, each in an index that holds it
            # (partial where the view's filter is fixed), so a page is read in order and the
            # scan stops after it instead of sorting the table. The orders live in
            # chats.selectors.inbox (working order, closed/deleted order, search) and
            # chats.api.conversations (cursor on created_at/updated_at); NULLS LAST needs
            # PostgreSQL, so migration 0007 creates them there only.
            *_list_order_indexes(),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["open", "snoozed", "closed"]), name="conv_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status="snoozed")
                | Q(snoozed_until__isnull=False)
                | Q(snooze_until_reply=True),
                name="conv_snooze_has_a_wake_condition",
            ),
            models.CheckConstraint(
                condition=Q(assignee__isnull=True) | Q(assigned_at__isnull=False),
                name="conv_assignee_has_assigned_at",
            ),
            models.CheckConstraint(
                condition=Q(load_weight__gte=1), name="conv_load_weight_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk}"
