"""Users and their operator profiles (role, teams, skills), and the sign-in lockout and API
token revocations; changes to access are audited."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import access
from accounts.models import AccessAuditEntry, OperatorProfile, Role, Skill, Team, User
from accounts.services.audit import _audit, _audit_saved
from accounts.services.common import _access_changed, _announce_available
from accounts.services.presence import capacity_refresh

# --- users and profiles ------------------------------------------------------------------


def _access_snapshot(profile: OperatorProfile | None, user: User) -> dict[str, Any]:
    return {
        "is_active": user.is_active,
        "role": profile.role.slug if profile is not None else None,
        "teams": sorted(profile.teams.values_list("name", flat=True)) if profile else [],
    }


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
    if previous is not None and previous["is_active"] != user.is_active:
        _access_changed([user.pk])
    _audit_saved(
        actor=actor,
        before=previous,
        after={"is_active": user.is_active},
        target_type=AccessAuditEntry.Target.USER,
        target_id=user.pk,
        target_repr=user.username,
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
    if previous is not None and before != after:
        _access_changed([profile.user_id])
    _audit_saved(
        actor=actor,
        before=before,
        after=after,
        target_type=AccessAuditEntry.Target.USER,
        target_id=profile.user_id,
        target_repr=profile.user.username,
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


# Presence is the operator's own (`presence_set`, the heartbeat): an admin's edit of the profile
# must not write back the presence it loaded when the form opened.
_PROFILE_EDITABLE = [
    f.name
    for f in OperatorProfile._meta.concrete_fields
    if f.editable and not f.primary_key and f.name not in {"user", "presence", "last_seen_at"}
]


# --- sign-in lockout and API tokens ------------------------------------------------------


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
