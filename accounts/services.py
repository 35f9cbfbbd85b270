"""Every change to users, roles, teams and profiles.

Each service runs in one transaction. Changes to access (a role, its capabilities, a user's
role or teams, a user's activation) write an `AccessAuditEntry` with the state before and after.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Min, Q, Value
from django.db.models.functions import Greatest
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import access
from accounts.models import AccessAuditEntry, OperatorProfile, Role, Skill, Team, User
from smartdesk.oncommit import after_commit
from smartdesk.realtime import ADMINS_GROUP, publish, user_group

# Sent on commit with `user_ids` when operators may take more work than before (came online,
# capacity raised, joined a team). `chats` listens and runs distribution for them; accounts
# imports no other app.
operators_available = Signal()


def _announce_available(user_ids: Iterable[int]) -> None:
    ids = sorted(set(user_ids))
    if ids:
        after_commit(
            operators_available.send, sender=None, user_ids=ids, name="operators-available"
        )


def _access_changed(user_ids: Iterable[int]) -> None:
    """Tell the users' open sockets to recompute what they may hear (on commit)."""
    for user_id in user_ids:
        publish({"type": "access.changed"}, groups=[user_group(user_id)], user_id=user_id)


_ROLE_FIELDS = (
    "name",
    "slug",
    "description",
    "scope",
    *(access.role_field(c) for c in access.Capability),
    "goodwill_points_limit",
    "goodwill_period_points_limit",
    "goodwill_period_days",
    "receives_auto_assignment",
)


def _role_snapshot(role: Role) -> dict[str, Any]:
    data: dict[str, Any] = {f: getattr(role, f) for f in _ROLE_FIELDS}
    data["archived_at"] = role.archived_at.isoformat() if role.archived_at else None
    return data


def _access_snapshot(profile: OperatorProfile | None, user: User) -> dict[str, Any]:
    return {
        "is_active": user.is_active,
        "role": profile.role.slug if profile is not None else None,
        "teams": sorted(profile.teams.values_list("name", flat=True)) if profile else [],
    }


def _audit(
    *,
    actor: User | None,
    action: str,
    target_type: str,
    target_id: int,
    target_repr: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> AccessAuditEntry:
    return AccessAuditEntry.objects.create(
        actor=actor if actor is not None and actor.pk else None,
        actor_repr=str(actor) if actor is not None else "",  # empty: the system (shown translated)
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_repr=target_repr[:200],
        before=before,
        after=after,
    )


# --- roles -------------------------------------------------------------------------------


@transaction.atomic
def role_save(*, role: Role, actor: User | None) -> Role:
    """Create `role` or store its edited fields; audits the before/after state.

    Refuses (ValidationError) what `Role.clean` refuses, and un-archiving through an edit.
    """
    role.full_clean()
    previous = Role.objects.select_for_update().filter(pk=role.pk).first() if role.pk else None
    if previous is not None and previous.archived_at != role.archived_at:
        raise ValidationError(_("Archive and restore a role with their own actions."))
    before = _role_snapshot(previous) if previous is not None else None
    role.save()
    after = _role_snapshot(role)
    if before is not None and before != after:
        _access_changed(OperatorProfile.objects.filter(role=role).values_list("user_id", flat=True))
    if before != after:
        _audit(
            actor=actor,
            action=AccessAuditEntry.Action.CREATED
            if previous is None
            else AccessAuditEntry.Action.CHANGED,
            target_type=AccessAuditEntry.Target.ROLE,
            target_id=role.pk,
            target_repr=role.name,
            before=before,
            after=after,
        )
    return role


def _locked_role(role: Role) -> Role:
    return Role.objects.select_for_update().get(pk=role.pk)


@transaction.atomic
def role_archive(*, role: Role, actor: User | None) -> Role:
    """Archive: nobody new can be given the role; users who have it keep it. Idempotent."""
    locked = _locked_role(role)
    if locked.slug == Role.SUPER_ADMIN:
        raise ValidationError(_("The super-admin role cannot be archived."))
    if locked.archived_at is not None:
        return locked
    before = _role_snapshot(locked)
    locked.archived_at = timezone.now()
    locked.save(update_fields=["archived_at", "updated_at"])
    _audit(
        actor=actor,
        action=AccessAuditEntry.Action.ARCHIVED,
        target_type=AccessAuditEntry.Target.ROLE,
        target_id=locked.pk,
        target_repr=locked.name,
        before=before,
        after=_role_snapshot(locked),
    )
    return locked


@transaction.atomic
def role_restore(*, role: Role, actor: User | None) -> Role:
    """Take a role out of the archive so it can be assigned again. Idempotent."""
    locked = _locked_role(role)
    if locked.archived_at is None:
        return locked
    before = _role_snapshot(locked)
    locked.archived_at = None
    locked.save(update_fields=["archived_at", "updated_at"])
    _audit(
        actor=actor,
        action=AccessAuditEntry.Action.RESTORED,
        target_type=AccessAuditEntry.Target.ROLE,
        target_id=locked.pk,
        target_repr=locked.name,
        before=before,
        after=_role_snapshot(locked),
    )
    return locked


def role_deletion_blocker(role: Role) -> str | None:
    """Why `role` cannot be deleted, or None when it can."""
    if role.is_builtin:
        return _("Built-in roles cannot be deleted.")
    if OperatorProfile.objects.filter(role=role).exists():
        return _("The role is in use; archive it instead.")
    return None


@transaction.atomic
def role_delete(*, role: Role, actor: User | None) -> None:
    """Delete a role nobody has and that is not built in; archive is the usual way."""
    locked = _locked_role(role)
    reason = role_deletion_blocker(locked)
    if reason:
        raise ValidationError(reason)
    before = _role_snapshot(locked)
    role_id, name = locked.pk, locked.name
    locked.delete()
    _audit(
        actor=actor,
        action=AccessAuditEntry.Action.DELETED,
        target_type=AccessAuditEntry.Target.ROLE,
        target_id=role_id,
        target_repr=name,
        before=before,
        after=None,
    )


# --- users and profiles ------------------------------------------------------------------


def profile_role_check(*, profile_id: int | None, role: Role) -> None:
    """Refuse giving an archived role to anyone who does not already have it."""
    if not role.is_archived:
        return
    current = (
        OperatorProfile.objects.filter(pk=profile_id).values_list("role_id", flat=True).first()
        if profile_id
        else None
    )
    if current != role.pk:
        raise ValidationError(
            _("The role “%(role)s” is archived and cannot be given to anyone new."),
            params={"role": role.display_name},
            code="archived_role",
        )


@transaction.atomic
def user_save(*, user: User, actor: User | None) -> User:
    """Create or update the sign-in record; audits creation and (de)activation."""
    previous = User.objects.filter(pk=user.pk).values("is_active").first() if user.pk else None
    user.save()
    if previous is None:
        _audit(
            actor=actor,
            action=AccessAuditEntry.Action.CREATED,
            target_type=AccessAuditEntry.Target.USER,
            target_id=user.pk,
            target_repr=user.username,
            before=None,
            after={"is_active": user.is_active},
        )
    elif previous["is_active"] != user.is_active:
        _access_changed([user.pk])
        _audit(
            actor=actor,
            action=AccessAuditEntry.Action.CHANGED,
            target_type=AccessAuditEntry.Target.USER,
            target_id=user.pk,
            target_repr=user.username,
            before={"is_active": previous["is_active"]},
            after={"is_active": user.is_active},
        )
    return user


@transaction.atomic
def operator_profile_save(
    *,
    profile: OperatorProfile,
    teams: Iterable[Team],
    skills: Iterable[Skill] | None = None,
    actor: User | None,
) -> OperatorProfile:
    """Create or update a profile with its teams (and skills); audits role and team changes.

    Refuses an archived role for anyone who does not already hold it.
    """
    profile_role_check(profile_id=profile.pk, role=profile.role)
    profile.full_clean(exclude=["user"])
    previous = (
        OperatorProfile.objects.select_for_update()
        .select_related("role")
        .filter(pk=profile.pk)
        .first()
        if profile.pk
        else None
    )
    before = _access_snapshot(previous, profile.user) if previous is not None else None
    if previous is None:
        profile.save()
    else:
        # Never write back the distribution counters this instance may hold stale copies of.
        profile.save(update_fields=_PROFILE_EDITABLE)
    profile.teams.set(list(teams))
    if skills is not None:
        profile.skills.set(list(skills))
    capacity_before = previous.capacity if previous is not None else 0
    after = _access_snapshot(profile, profile.user)
    joined = before is not None and set(after["teams"]) - set(before["teams"])
    if capacity_refresh([profile.user_id]).get(profile.user_id, 0) > capacity_before or joined:
        _announce_available([profile.user_id])  # more room, or new queues to serve
    if before is not None:
        before["is_active"] = after["is_active"]  # activation is audited by user_save
    if before != after:
        if previous is not None:
            _access_changed([profile.user_id])
        _audit(
            actor=actor,
            action=AccessAuditEntry.Action.CREATED
            if previous is None
            else AccessAuditEntry.Action.CHANGED,
            target_type=AccessAuditEntry.Target.USER,
            target_id=profile.user_id,
            target_repr=profile.user.username,
            before=before,
            after=after,
        )
    access.forget(profile.user)
    return profile


@transaction.atomic
def user_create(
    *,
    username: str,
    password: str | None,
    role: Role,
    teams: Iterable[Team] = (),
    skills: Iterable[Skill] = (),
    actor: User | None,
    **fields: Any,
) -> User:
    """A user with a profile in one go (seeding, provisioning); audited like the admin."""
    profile_fields = {
        k: fields.pop(k)
        for k in list(fields)
        if k in {f.name for f in OperatorProfile._meta.get_fields()}
    }
    user = User(username=username, **fields)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user_save(user=user, actor=actor)
    operator_profile_save(
        profile=OperatorProfile(user=user, role=role, **profile_fields),
        teams=teams,
        skills=skills,
        actor=actor,
    )
    return user


# What an operator may change about their own profile (the preferences page and its form).
PREFERENCE_FIELDS = (
    "language",
    "time_zone",
    "font_scale",
    "high_contrast",
    "reduced_motion",
    "alert_sound",
    "alert_desktop",
    "alert_title_count",
    "reduced_distraction",
    "keyboard_shortcuts",
)


@transaction.atomic
def profile_update_preferences(*, profile: OperatorProfile, **preferences: Any) -> OperatorProfile:
    """The operator's own UI preferences; not an access change, so not audited."""
    unknown = set(preferences) - set(PREFERENCE_FIELDS)
    if unknown:
        raise ValueError(f"not preferences: {sorted(unknown)}")
    for name, value in preferences.items():
        setattr(profile, name, value)
    profile.full_clean(exclude=["user", "role"])
    profile.save(update_fields=list(preferences))
    access.forget(profile.user)
    return profile


# Presence is the operator's own (`presence_set`, the heartbeat): an admin's edit of the profile
# must not write back the presence it loaded when the form opened.
_PROFILE_EDITABLE = [
    f.name
    for f in OperatorProfile._meta.concrete_fields
    if f.editable and not f.primary_key and f.name not in {"user", "presence", "last_seen_at"}
]


# --- capacity and presence (distribution: docs/distribution.md) --------------------------


def capacity_effective(profile: OperatorProfile) -> int:
    """The operator's own capacity, else the smallest default of their teams, else the
    site default."""
    if profile.max_concurrent_conversations is not None:
        return profile.max_concurrent_conversations
    smallest = profile.teams.aggregate(n=Min("default_capacity"))["n"]
    return smallest if smallest is not None else settings.DISTRIBUTION_DEFAULT_CAPACITY


def capacity_refresh(user_ids: Iterable[int]) -> dict[int, int]:
    """Store the capacity in effect for these operators; returns it by user id.

    A capacity lowered below the current load keeps the conversations where they are: the
    excess is recorded as `overload`, and nothing new comes until the load drops.
    """
    result: dict[int, int] = {}
    for profile in OperatorProfile.objects.filter(user_id__in=list(user_ids)):
        capacity = capacity_effective(profile)
        OperatorProfile.objects.filter(pk=profile.pk).update(
            capacity=capacity, overload=Greatest(Value(0), F("load") - capacity)
        )
        result[profile.user_id] = capacity
    return result


def _team_snapshot(team: Team) -> dict[str, Any]:
    return {
        "name": team.name,
        "auto_assign": team.auto_assign,
        "default_capacity": team.default_capacity,
        "reassign_after_minutes": team.reassign_after_minutes,
    }


@transaction.atomic
def team_save(*, team: Team, actor: User | None) -> Team:
    """Create or change a team (name and distribution settings); audited. Members whose
    capacity follows the team default get the new one."""
    team.full_clean()
    previous = Team.objects.select_for_update().filter(pk=team.pk).first() if team.pk else None
    before = _team_snapshot(previous) if previous is not None else None
    team.save()
    after = _team_snapshot(team)
    if before != after:
        _audit(
            actor=actor,
            action=AccessAuditEntry.Action.CREATED
            if previous is None
            else AccessAuditEntry.Action.CHANGED,
            target_type=AccessAuditEntry.Target.TEAM,
            target_id=team.pk,
            target_repr=team.name,
            before=before,
            after=after,
        )
    if previous is not None:
        members = list(
            OperatorProfile.objects.filter(teams=team).values_list("user_id", "capacity")
        )
        refreshed = capacity_refresh([user_id for user_id, _capacity in members])
        _announce_available(
            user_id for user_id, capacity in members if refreshed.get(user_id, 0) > capacity
        )
        if previous.auto_assign != team.auto_assign and team.auto_assign:
            _announce_available(user_id for user_id, _capacity in members)
    return team


def _publish_presence(profile: OperatorProfile) -> None:
    event = {
        "type": "presence.changed",
        "user_id": profile.user_id,
        "presence": profile.presence,
    }
    publish(event, groups=[user_group(profile.user_id), ADMINS_GROUP], user_id=profile.user_id)


@transaction.atomic
def presence_set(*, user: User, presence: str, now: datetime | None = None) -> OperatorProfile:
    """The operator chose online, away or offline."""
    if presence not in OperatorProfile.Presence.values:
        raise ValidationError(_("Unknown presence: %(value)s") % {"value": presence})
    profile = OperatorProfile.objects.select_for_update().filter(user_id=user.pk).first()
    if profile is None:
        raise ValidationError(_("%(name)s has no operator profile.") % {"name": user})
    now = now or timezone.now()
    changed = profile.presence != presence or profile.away_by_timeout
    profile.presence = presence
    profile.away_by_timeout = False
    profile.last_seen_at = now
    profile.save(update_fields=["presence", "away_by_timeout", "last_seen_at"])
    access.forget(user)
    if changed:
        _publish_presence(profile)
        if presence == OperatorProfile.Presence.ONLINE:
            _announce_available([user.pk])
    return profile


HEARTBEAT_WRITE_EVERY = timedelta(seconds=15)


def presence_heartbeat(*, user_id: int, now: datetime | None = None) -> bool:
    """The operator's socket is alive. Writes at most every few seconds; an operator the sweep
    made away for silence comes back online. Returns True when that happened."""
    now = now or timezone.now()
    with transaction.atomic():
        back = OperatorProfile.objects.filter(
            user_id=user_id, presence=OperatorProfile.Presence.AWAY, away_by_timeout=True
        ).update(presence=OperatorProfile.Presence.ONLINE, away_by_timeout=False, last_seen_at=now)
        if back:
            profile = OperatorProfile.objects.get(user_id=user_id)
            _publish_presence(profile)
            _announce_available([user_id])
            return True
    OperatorProfile.objects.filter(user_id=user_id).filter(
        _silent_since(now - HEARTBEAT_WRITE_EVERY)
    ).update(last_seen_at=now)
    return False


def presence_expire(*, now: datetime | None = None) -> list[int]:
    """Online operators whose socket has been silent too long become away (by timeout)."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.PRESENCE_AWAY_AFTER_SECONDS)
    with transaction.atomic():
        silent = list(
            OperatorProfile.objects.select_for_update(skip_locked=True)
            .filter(presence=OperatorProfile.Presence.ONLINE)
            .filter(_silent_since(cutoff))
        )
        for profile in silent:
            profile.presence = OperatorProfile.Presence.AWAY
            profile.away_by_timeout = True
            profile.save(update_fields=["presence", "away_by_timeout"])
            _publish_presence(profile)
    return [profile.user_id for profile in silent]


def _silent_since(cutoff: datetime) -> Q:
    return Q(last_seen_at__isnull=True) | Q(last_seen_at__lt=cutoff)


@transaction.atomic
def operator_busy_set(*, user_id: int, weight: int) -> None:
    """Set the load an operator carries outside conversations (a call: #7), replacing what
    was set before. A call rings whatever the chat load, so this may go beyond capacity (the
    excess is recorded as overload); lowering it frees room for the queue."""
    weight = max(0, int(weight))
    profile = OperatorProfile.objects.select_for_update().filter(user_id=user_id).first()
    if profile is None or profile.busy_load == weight:
        return
    delta = weight - profile.busy_load
    OperatorProfile.objects.filter(pk=profile.pk).update(
        load=F("load") + delta,
        busy_load=weight,
        overload=Greatest(Value(0), F("load") + delta - F("capacity")),
    )
    if delta < 0:
        _announce_available([user_id])


# --- sign-in lockout and API tokens (issue 12) --------------------------------------------


def sign_in_lockout_record(
    *, username: str | None, ip_address: str | None, cool_off: timedelta | None
) -> AccessAuditEntry | None:
    """Audit that sign-in as `username` is locked out (django-axes decided; its own tables
    hold every attempt). One entry per lockout: the attempts that keep hitting the same
    lockout add nothing. Unknown usernames are only in axes' tables."""
    user = User.objects.filter(username=username).first() if username else None
    if user is None:
        return None
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()  # one entry when racing
        recent = AccessAuditEntry.objects.filter(
            target_type=AccessAuditEntry.Target.USER,
            target_id=user.pk,
            after__sign_in_locked=True,
        )
        if cool_off is not None:
            recent = recent.filter(at__gte=timezone.now() - cool_off)
        elif user.last_login is not None:
            recent = recent.filter(at__gte=user.last_login)
        if recent.exists():
            return None
        return _audit(
            actor=None,
            action=AccessAuditEntry.Action.CHANGED,
            target_type=AccessAuditEntry.Target.USER,
            target_id=user.pk,
            target_repr=user.username,
            before={"sign_in_locked": False},
            after={"sign_in_locked": True, "ip_address": ip_address or ""},
        )


@transaction.atomic
def api_tokens_revoke(*, user: User, reason: str, actor: User | None = None) -> int:
    """Delete the user's API tokens (password changed or reset, account deactivated);
    audited when there was one. Returns how many were deleted."""
    from rest_framework.authtoken.models import Token

    count, _deleted = Token.objects.filter(user_id=user.pk).delete()
    if count:
        _audit(
            actor=actor,
            action=AccessAuditEntry.Action.CHANGED,
            target_type=AccessAuditEntry.Target.USER,
            target_id=user.pk,
            target_repr=user.username,
            before={"api_tokens": count},
            after={"api_tokens": 0, "revoked_because": reason},
        )
    return count
