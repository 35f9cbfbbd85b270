"""Inboxes, conversations, messages, their audit trail and reply templates.

State changes live in `chats.services`; reads in `chats.selectors` (the access gate).
"""

from __future__ import annotations

import re
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Team
from customers.models import Customer

WIDGET_COLOR = re.compile(r"#[0-9a-fA-F]{3,8}")


def _new_key() -> str:
    return secrets.token_urlsafe(12)


def _new_secret() -> str:
    return secrets.token_urlsafe(32)


class SoftDeleted(models.Model):
    """Nothing is hard-deleted from the UI: rows are marked, with who and when, and can be
    restored by those allowed to."""

    deleted_at = models.DateTimeField(_("deleted at"), null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("deleted by"),
    )

    class Meta:
        abstract = True


class Inbox(models.Model):
    """A channel endpoint: one Telegram bot, one website widget, one mobile app, one API client.

    `key` is public (it names the inbox in URLs such as the widget's); `secret` authenticates
    the channel's own calls (API posts, HMAC signatures) and is never shown back in full.
    """

    class Kind(models.TextChoices):
        WIDGET = "widget", _("website widget")
        TELEGRAM = "telegram", _("Telegram")
        MOBILE = "mobile", _("mobile app")
        API = "api", _("API")

    name = models.CharField(_("name"), max_length=100, unique=True)
    kind = models.CharField(_("channel"), max_length=16, choices=Kind.choices)
    default_team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("default team"),
    )
    key = models.CharField(_("public key"), max_length=32, unique=True, default=_new_key)
    secret = models.CharField(_("secret"), max_length=64, default=_new_secret)
    settings = models.JSONField(_("settings"), default=dict, blank=True)
    # Channel credentials and wiring (docs/channels.md). The bot token, like the secret, is
    # never shown back in full.
    bot_token = models.CharField(
        _("Telegram bot token"),
        max_length=200,
        blank=True,
        help_text=_("From @BotFather. Telegram inboxes only."),
    )
    allowed_origins = models.TextField(
        _("allowed origins"),
        blank=True,
        help_text=_(
            "Websites that may embed the widget or call the client API from a browser, one per "
            "line, e.g. https://shop.example.com."
        ),
    )
    push_url = models.URLField(
        _("push webhook URL"),
        max_length=500,
        blank=True,
        help_text=_(
            "Mobile app inboxes: the app backend's URL that receives every operator reply, "
            "signed with the inbox secret, to send a push notification."
        ),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("inbox")
        verbose_name_plural = _("inboxes")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        options = self.settings if isinstance(self.settings, dict) else {}
        color = options.get("widget_color")
        if color and not WIDGET_COLOR.fullmatch(str(color)):
            raise ValidationError(
                {"settings": _("widget_color must be a hex colour such as #2457c5.")}
            )

    @property
    def origins(self) -> list[str]:
        """The allow-listed browser origins, normalised (scheme://host[:port], no slash)."""
        return [
            line.strip().rstrip("/").lower()
            for line in self.allowed_origins.splitlines()
            if line.strip()
        ]


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


class Message(SoftDeleted):
    class Kind(models.TextChoices):
        INBOUND = "inbound", _("from the customer")
        OUTBOUND = "outbound", _("reply")
        NOTE = "note", _("internal note")
        SYSTEM = "system", _("system event")

    class Delivery(models.TextChoices):
        NOT_APPLICABLE = "", _("—")
        QUEUED = "queued", _("queued")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")

    conversation = models.ForeignKey(
        Conversation, on_delete=models.PROTECT, related_name="messages"
    )
    # Denormalised from the conversation so (inbox, external_id) can be unique in one index.
    inbox = models.ForeignKey(Inbox, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("author"),
    )
    body = models.TextField(_("text"), blank=True)
    attachments = models.JSONField(_("attachments"), default=list, blank=True)
    # NULL, not "": messages of our own have no channel id and must not collide in the index.
    external_id = models.CharField(  # noqa: DJ001
        _("channel id"), max_length=128, null=True, blank=True
    )
    delivery_status = models.CharField(
        _("delivery"), max_length=8, choices=Delivery.choices, blank=True, default=""
    )
    delivery_error = models.CharField(_("delivery error"), max_length=500, blank=True)
    # The delivery outbox (docs/channels.md, "Delivery"): a queued reply is claimed by one
    # task at a time with a conditional UPDATE that sets `delivery_claimed_until` (the lease,
    # renewed before each part, or the time a retry is due after a transient error) and
    # counts the try. The sweep re-enqueues a queued reply never claimed within
    # DELIVERY_STUCK_SECONDS or whose claim has run out (its worker died).
    delivery_claimed_until = models.DateTimeField(
        _("delivery claimed until"), null=True, blank=True
    )
    # Not "Positive": its CHECK would make adding the column scan the whole table under lock.
    delivery_tries = models.SmallIntegerField(_("delivery tries"), default=0, db_default=0)
    # Channel details (docs/channels.md): formatting as (code-point) offsets into `body`, the
    # customer's reply target, the album a Telegram photo arrived in, the last edit.
    entities = models.JSONField(_("formatting"), default=list, blank=True)
    # References to a message are kept by the application, not by a database foreign key: on
    # PostgreSQL messages are partitioned by month (smartdesk/partitions.py) and a foreign key
    # to a partitioned table must name its whole primary key, (id, created_at). Django still
    # emulates on_delete; nothing deletes messages but tests (the UI soft-deletes).
    reply_to = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_constraint=False,
        related_name="+",
        verbose_name=_("in reply to"),
    )
    media_group_id = models.CharField(  # noqa: DJ001 - NULL: most messages are no album
        _("album id"), max_length=64, null=True, blank=True
    )
    edited_at = models.DateTimeField(_("edited at"), null=True, blank=True)
    created_at = models.DateTimeField(_("sent at"), auto_now_add=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        indexes = [
            models.Index(fields=["conversation", "created_at"], name="msg_conversation"),
            models.Index(
                fields=["inbox", "media_group_id"],
                name="msg_media_group",
                condition=Q(media_group_id__isnull=False),
            ),
            # The delivery sweep's look-up: only the (few) replies still queued.
            models.Index(
                fields=["created_at"],
                name="msg_delivery_queued",
                condition=Q(delivery_status="queued"),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["inbox", "external_id"],
                condition=Q(external_id__isnull=False),
                name="msg_inbox_external_id_unique",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["inbound", "outbound", "note", "system"]),
                name="msg_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"

    @property
    def is_customer_visible(self) -> bool:
        return self.kind in (self.Kind.INBOUND, self.Kind.OUTBOUND)


class ConversationEvent(models.Model):
    """The audit trail of a conversation. Written by services, never edited."""

    class Type(models.TextChoices):
        CREATED = "created", _("created")
        ASSIGNED = "assigned", _("assigned")
        UNASSIGNED = "unassigned", _("unassigned")
        TRANSFERRED = "transferred", _("transferred")
        PRIORITY = "priority", _("priority changed")
        SNOOZED = "snoozed", _("snoozed")
        WOKE = "woke", _("woke up")
        CLOSED = "closed", _("closed")
        REOPENED = "reopened", _("reopened")
        DELETED = "deleted", _("deleted")
        RESTORED = "restored", _("restored")
        REASSIGNED = "reassigned", _("reassigned (operator away)")
        MESSAGE_DELETED = "message_deleted", _("message deleted")

    conversation = models.ForeignKey(Conversation, on_delete=models.PROTECT, related_name="events")
    type = models.CharField(_("type"), max_length=24, choices=Type.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("who"),
    )
    at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)
    data = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("conversation event")
        verbose_name_plural = _("conversation events")
        indexes = [models.Index(fields=["conversation", "at"], name="convevent_conversation")]

    def __str__(self) -> str:
        return f"{self.type} #{self.conversation_id}"


class ReplyTemplate(models.Model):
    name = models.CharField(_("name"), max_length=100)
    shortcut = models.SlugField(
        _("shortcut"), max_length=50, help_text=_("Typed as /shortcut in the composer.")
    )
    body = models.TextField(
        _("text"),
        help_text=_(
            "Placeholders: {{ customer.first_name }}, {{ customer.name }}, "
            "{{ operator.first_name }}."
        ),
    )
    team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="reply_templates",
        verbose_name=_("team"),
        help_text=_("Empty: available to every team."),
    )
    language = models.CharField(_("language"), max_length=8, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["shortcut"]
        verbose_name = _("reply template")
        verbose_name_plural = _("reply templates")
        constraints = [
            models.UniqueConstraint(
                fields=["shortcut", "team", "language"],
                condition=Q(team__isnull=False),
                name="template_shortcut_unique_per_team",
            ),
            models.UniqueConstraint(
                fields=["shortcut", "language"],
                condition=Q(team__isnull=True),
                name="template_shortcut_unique_global",
            ),
        ]

    def __str__(self) -> str:
        return f"/{self.shortcut}"


class TopicRule(models.Model):
    """Routing by topic: a conversation on this topic goes to `team`'s queue (when set) and
    only to operators with `required_skill` (when set)."""

    topic = models.CharField(_("topic"), max_length=100, unique=True)
    team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="topic_rules",
        verbose_name=_("team"),
    )
    required_skill = models.ForeignKey(
        "accounts.Skill",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="topic_rules",
        verbose_name=_("required skill"),
    )

    class Meta:
        ordering = ["topic"]
        verbose_name = _("topic rule")
        verbose_name_plural = _("topic rules")

    def __str__(self) -> str:
        return self.topic


# --- channels (docs/channels.md) -----------------------------------------------------------


class MessageRevision(models.Model):
    """A previous version of a message the customer edited in their channel (Telegram lets
    them). Written by `chats.services.messages.message_edit_from_channel`, never changed."""

    message = models.ForeignKey(  # no database constraint: see Message.reply_to
        Message,
        on_delete=models.CASCADE,
        related_name="revisions",
        verbose_name=_("message"),
        db_constraint=False,
    )
    body = models.TextField(_("text"), blank=True)
    entities = models.JSONField(_("formatting"), default=list, blank=True)
    # When this version was current until (the moment of the edit that replaced it).
    replaced_at = models.DateTimeField(_("replaced at"))

    class Meta:
        ordering = ["replaced_at", "id"]
        verbose_name = _("message revision")
        verbose_name_plural = _("message revisions")

    def __str__(self) -> str:
        return f"#{self.message_id} @ {self.replaced_at:%Y-%m-%d %H:%M}"


class TelegramUpdate(models.Model):
    """One update Telegram posted to an inbox's webhook, kept until processed (and after, as
    the record that makes a redelivery of the same `update_id` a no-op)."""

    inbox = models.ForeignKey(Inbox, on_delete=models.PROTECT, related_name="+")
    update_id = models.BigIntegerField(_("update id"))
    payload = models.JSONField(_("update"))
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("Telegram update")
        verbose_name_plural = _("Telegram updates")
        constraints = [models.UniqueConstraint(fields=["inbox", "update_id"], name="tgupdate_once")]

    def __str__(self) -> str:
        return f"{self.inbox_id}:{self.update_id}"


class TelegramChat(models.Model):
    """Where replies to a customer go through one bot: their private chat with it. A chat
    migrated to a supergroup gets its new id here (Telegram's `migrate_to_chat_id`)."""

    inbox = models.ForeignKey(Inbox, on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="+", verbose_name=_("customer")
    )
    chat_id = models.BigIntegerField(_("chat id"))
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("Telegram chat")
        verbose_name_plural = _("Telegram chats")
        constraints = [
            models.UniqueConstraint(fields=["inbox", "customer"], name="tgchat_one_per_customer")
        ]

    def __str__(self) -> str:
        return str(self.chat_id)


class DeliveryAttempt(models.Model):
    """One try to hand a reply to a channel (a Bot API call, a push webhook to the app's
    backend): what was called, what came back. The operator's 'not delivered' has a trail."""

    class Target(models.TextChoices):
        TELEGRAM = "telegram", _("Telegram")
        PUSH = "push", _("push webhook")

    message = models.ForeignKey(  # no database constraint: see Message.reply_to
        Message,
        on_delete=models.CASCADE,
        related_name="attempts",
        verbose_name=_("message"),
        db_constraint=False,
    )
    target = models.CharField(_("target"), max_length=16, choices=Target.choices)
    at = models.DateTimeField(_("when"), auto_now_add=True)
    status_code = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    ok = models.BooleanField(_("succeeded"), default=False)
    error = models.CharField(_("error"), max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)
    # A reply that goes out as several channel messages (a long text, then a photo): which
    # part this call was for, the API method, and the channel's id for the part it created.
    # A retry resumes at the first part without a successful attempt.
    part = models.PositiveSmallIntegerField(_("part"), null=True, blank=True)
    method = models.CharField(_("method"), max_length=32, blank=True)
    external_id = models.CharField(_("channel message id"), max_length=128, blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("delivery attempt")
        verbose_name_plural = _("delivery attempts")
        indexes = [models.Index(fields=["message", "target", "at"], name="attempt_message")]

    def __str__(self) -> str:
        return f"{self.target} #{self.message_id} {self.status_code or self.error[:20]}"
