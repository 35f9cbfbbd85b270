"""Users, teams, roles and operator profiles.

Roles carry an access scope and capability flags; `accounts.access` is the one place that
turns them into decisions. Every change to roles and to a user's role or teams goes through
`accounts.services`, which writes an `AccessAuditEntry`.
"""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class User(AbstractUser):
    """A person who signs in: operator, admin, super-admin, BI analyst, or an API account."""

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.get_full_name() or self.username


class Team(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    # Distribution settings (see docs/distribution.md).
    auto_assign = models.BooleanField(
        _("assign automatically"),
        default=True,
        help_text=_("Off: conversations wait in the team queue until someone takes them."),
    )
    default_capacity = models.PositiveSmallIntegerField(
        _("default capacity"),
        default=5,
        validators=[MaxValueValidator(100)],
        help_text=_("Conversations at a time for members whose own capacity is empty."),
    )
    reassign_after_minutes = models.PositiveSmallIntegerField(
        _("reassign after (minutes)"),
        null=True,
        blank=True,
        default=5,
        help_text=_(
            "A conversation whose operator is away and has not answered for this long goes "
            "back to the queue. Empty: never."
        ),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(default_capacity__lte=100), name="team_capacity_at_most_100"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Skill(models.Model):
    """A specialisation used by routing: a language, a product line, complaints handling."""

    name = models.CharField(_("name"), max_length=100, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("skill")
        verbose_name_plural = _("skills")

    def __str__(self) -> str:
        return self.name


class Role(models.Model):
    class Scope(models.TextChoices):
        ALL = "all", _("All conversations")
        TEAMS = "teams", _("Conversations of the user's teams")
        ASSIGNED = "assigned", _("Only conversations assigned to the user")

    # Slugs of the roles the data migration creates; they cannot be deleted.
    OPERATOR = "operator"
    ADMIN = "admin"
    SUPER_ADMIN = "super-admin"
    BUILTIN_SLUGS = (OPERATOR, ADMIN, SUPER_ADMIN)
    # The names migration 0002 gives the built-in roles, shown in the viewer's language while
    # the role keeps that name (a name an admin typed is shown as typed).
    BUILTIN_NAMES = {
        OPERATOR: ("Operator", _("Operator")),
        ADMIN: ("Admin", _("Admin")),
        SUPER_ADMIN: ("Super-admin", _("Super-admin")),
    }

    name = models.CharField(_("name"), max_length=100, unique=True)
    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)
    scope = models.CharField(
        _("access scope"), max_length=16, choices=Scope.choices, default=Scope.ASSIGNED
    )
    # Capability flags: one per `accounts.access.Capability`, named `can_<capability>`.
    can_view_deleted_messages = models.BooleanField(_("can see deleted messages"), default=False)
    can_restore_conversations = models.BooleanField(
        _("can restore deleted conversations"), default=False
    )
    can_view_statistics = models.BooleanField(_("can view statistics"), default=False)
    can_export_reports = models.BooleanField(_("can export reports"), default=False)
    can_manage_templates = models.BooleanField(_("can manage reply templates"), default=False)
    can_view_customer_pii = models.BooleanField(_("can see customer personal data"), default=False)
    can_use_admin = models.BooleanField(_("can open the administration site"), default=False)
    can_manage_access = models.BooleanField(_("can manage roles, users and teams"), default=False)
    can_exceed_capacity = models.BooleanField(
        _("can assign beyond an operator's capacity"), default=False
    )
    can_adjust_loyalty = models.BooleanField(
        _("can adjust loyalty points and approve goodwill"), default=False
    )
    # Acting on conversations (reply, assign, snooze, close…) is a capability of its own: a role
    # without it sees its scope (to report and export) and changes nothing. Off for a new role.
    can_handle_conversations = models.BooleanField(
        _("can work on conversations (reply, assign, snooze, close)"), default=False
    )
    can_act_on_all_customers = models.BooleanField(
        _("can change any customer's loyalty, not only those of its conversations"),
        default=False,
    )
    # Automatic distribution gives waiting conversations only to holders of a role with this
    # on. Supervisors and admins take conversations by hand: the built-in admin roles
    # have it off (migration 0006); a role that does not work on conversations gets none anyway.
    receives_auto_assignment = models.BooleanField(
        _("receives automatic assignments"),
        default=True,
        help_text=_(
            "Holders who are online with free capacity are given waiting conversations "
            "automatically. Turn off for supervisors and admins: they can still take or be "
            "assigned conversations by hand."
        ),
    )
    goodwill_points_limit = models.PositiveIntegerField(
        _("goodwill limit (points)"),
        default=0,
        help_text=_(
            "Points a holder may grant from a conversation without approval; "
            "above it an admin approves."
        ),
    )
    # The limit per grant alone lets many small grants through: this one caps what one person
    # grants without approval over a rolling period (`customers.loyalty.goodwill_grant`).
    goodwill_period_points_limit = models.PositiveIntegerField(
        _("goodwill limit per period (points)"),
        null=True,
        blank=True,
        help_text=_(
            "Points a holder may grant without approval in total over the period below; "
            "beyond it an admin approves. Empty: no limit per period."
        ),
    )
    goodwill_period_days = models.PositiveSmallIntegerField(
        _("goodwill period (days)"),
        default=7,
        validators=[MinValueValidator(1), MaxValueValidator(366)],
        help_text=_("The rolling period of the limit above, in days."),
    )
    archived_at = models.DateTimeField(_("archived at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("role")
        verbose_name_plural = _("roles")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(scope__in=["all", "teams", "assigned"]),
                name="role_scope_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(goodwill_period_days__gte=1, goodwill_period_days__lte=366),
                name="role_goodwill_period_valid",
            ),
        ]

    def __str__(self) -> str:
        if self.is_archived:
            return _("%(name)s (archived)") % {"name": self.display_name}
        return self.display_name

    @property
    def display_name(self) -> str:
        """The name to show people: a built-in role's in their language, unless renamed."""
        shipped, translated = self.BUILTIN_NAMES.get(self.slug, (None, None))
        return str(translated) if shipped is not None and self.name == shipped else self.name

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    @property
    def is_builtin(self) -> bool:
        return self.slug in self.BUILTIN_SLUGS

    def clean(self) -> None:
        # The built-in super-admin role is the way back in; it cannot be disarmed.
        if self.slug == self.SUPER_ADMIN:
            if not (self.can_manage_access and self.can_use_admin):
                raise ValidationError(
                    _("The super-admin role must keep access management and the admin site.")
                )
            if self.scope != self.Scope.ALL:
                raise ValidationError(_("The super-admin role must see all conversations."))


def _validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("Unknown time zone: %(tz)s"), params={"tz": value})


class OperatorProfile(models.Model):
    """What Smartdesk knows about a user beyond sign-in: access, routing and UI preferences."""

    class Presence(models.TextChoices):
        ONLINE = "online", _("Online")
        AWAY = "away", _("Away")
        OFFLINE = "offline", _("Offline")

    class FontScale(models.IntegerChoices):
        NORMAL = 100, _("Normal")
        LARGE = 115, _("Large")
        LARGER = 130, _("Larger")
        LARGEST = 150, _("Largest")
        HUGE = 175, _("Very large")
        DOUBLE = 200, _("Double")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="profile",
        verbose_name=_("user"),
    )
    # PROTECT: a role in use is never deleted.
    role = models.ForeignKey(
        Role, on_delete=models.PROTECT, related_name="profiles", verbose_name=_("role")
    )
    teams = models.ManyToManyField(
        Team, blank=True, related_name="members", verbose_name=_("teams")
    )
    skills = models.ManyToManyField(
        Skill, blank=True, related_name="operators", verbose_name=_("skills")
    )
    max_concurrent_conversations = models.PositiveSmallIntegerField(
        _("max concurrent conversations"),
        null=True,
        blank=True,
        validators=[MaxValueValidator(100)],
        help_text=_("Empty: the smallest default capacity of the operator's teams."),
    )
    # Distribution state, maintained by the services in one transaction with the assignment
    # that changes it (docs/distribution.md). `capacity` is the effective limit; `load` the sum
    # of the weights of the open, unsnoozed conversations assigned; `overload` what an admin
    # assigned beyond capacity on purpose. The database refuses a load above the two.
    capacity = models.PositiveSmallIntegerField(_("capacity in effect"), default=5, editable=False)
    load = models.PositiveIntegerField(_("current load"), default=0, editable=False)
    # The part of `load` that is not conversations: a call in progress or in wrap-up.
    busy_load = models.PositiveIntegerField(_("load from calls"), default=0, editable=False)
    overload = models.PositiveIntegerField(
        _("load allowed beyond capacity"), default=0, editable=False
    )
    last_assigned_at = models.DateTimeField(
        _("last assigned at"), null=True, blank=True, editable=False
    )
    presence = models.CharField(
        _("presence"), max_length=8, choices=Presence.choices, default=Presence.OFFLINE
    )
    last_seen_at = models.DateTimeField(_("last seen at"), null=True, blank=True)
    # Set when the sweep made an online operator away for lack of heartbeat (not by choice):
    # their next heartbeat brings them back online.
    away_by_timeout = models.BooleanField(_("away by timeout"), default=False, editable=False)
    phone_extension = models.CharField(
        _("phone extension"),
        max_length=32,
        blank=True,
        help_text=_("The PBX extension or interface that rings this operator, e.g. PJSIP/101."),
    )
    language = models.CharField(
        _("language"),
        max_length=8,
        blank=True,
        choices=settings.LANGUAGES,
        help_text=_("Empty: follow the browser."),
    )
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="UTC", validators=[_validate_time_zone]
    )
    font_scale = models.PositiveSmallIntegerField(
        _("font size"), choices=FontScale.choices, default=FontScale.NORMAL
    )
    high_contrast = models.BooleanField(_("high-contrast theme"), default=False)
    reduced_motion = models.BooleanField(_("reduce motion"), default=False)
    # Alerts. Each is the operator's own choice; "reduced distraction" silences all
    # of them at once without losing the individual settings.
    alert_sound = models.BooleanField(
        _("sound on a new assignment or message"),
        default=False,
        help_text=_(
            "A short tone when a conversation is assigned to you or one of yours gets a message."
        ),
    )
    alert_desktop = models.BooleanField(
        _("desktop notifications"),
        default=False,
        help_text=_("The browser asks for permission the first time you switch this on."),
    )
    alert_title_count = models.BooleanField(_("unread count in the tab title"), default=True)
    reduced_distraction = models.BooleanField(
        _("reduced distraction"),
        default=False,
        help_text=_("No sounds, notifications or title counts, whatever is set above."),
    )
    # WCAG 2.1.4: single-key shortcuts can be switched off.
    keyboard_shortcuts = models.BooleanField(
        _("single-key shortcuts"),
        default=True,
        help_text=_("Keys such as e (close) and s (snooze) in the inbox. Press ? to list them."),
    )

    class Meta:
        verbose_name = _("operator profile")
        verbose_name_plural = _("operator profiles")
        constraints = [
            models.UniqueConstraint(
                fields=["phone_extension"],
                condition=~models.Q(phone_extension=""),
                name="profile_phone_extension_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(max_concurrent_conversations__lte=100),
                name="profile_capacity_at_most_100",
            ),
            models.CheckConstraint(
                condition=models.Q(font_scale__in=[100, 115, 130, 150, 175, 200]),
                name="profile_font_scale_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(load__lte=models.F("capacity") + models.F("overload")),
                name="profile_load_within_capacity",
            ),
        ]

    def __str__(self) -> str:
        return str(self.user)


class AccessAuditEntry(models.Model):
    """One change to access: who did it, when, and the state before and after. Never edited."""

    class Action(models.TextChoices):
        CREATED = "created", _("created")
        CHANGED = "changed", _("changed")
        ARCHIVED = "archived", _("archived")
        RESTORED = "restored", _("restored")
        DELETED = "deleted", _("deleted")

    class Target(models.TextChoices):
        ROLE = "role", _("role")
        USER = "user", _("user")
        TEAM = "team", _("team")

    at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("who"),
    )
    # Kept as text too, so the trail still reads right after a user is renamed or removed.
    actor_repr = models.CharField(_("who"), max_length=200, blank=True)
    action = models.CharField(_("action"), max_length=16, choices=Action.choices)
    target_type = models.CharField(_("target type"), max_length=16, choices=Target.choices)
    target_id = models.BigIntegerField(_("target id"))
    target_repr = models.CharField(_("target"), max_length=200)
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("access audit entry")
        verbose_name_plural = _("access audit trail")
        indexes = [models.Index(fields=["target_type", "target_id", "-at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_display} {self.action} {self.target_repr}"

    @property
    def actor_display(self) -> str:
        """Who acted, as people read it: a change nobody made by hand is "system", translated."""
        return self.actor_repr or str(_("system"))
