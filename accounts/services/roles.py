"""Roles: create and edit, archive and restore, delete; each audited."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import access
from accounts.models import AccessAuditEntry, OperatorProfile, Role, User
from accounts.services.audit import _audit, _audit_saved, audited_update
from accounts.services.common import _access_changed

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
    _audit_saved(
        actor=actor,
        before=before,
        after=after,
        target_type=AccessAuditEntry.Target.ROLE,
        target_id=role.pk,
        target_repr=role.name,
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
    return audited_update(
        instance=locked,
        data={"archived_at": timezone.now()},
        snapshot=_role_snapshot,
        actor=actor,
        action=AccessAuditEntry.Action.ARCHIVED,
        target_type=AccessAuditEntry.Target.ROLE,
        target_repr=locked.name,
    )


@transaction.atomic
def role_restore(*, role: Role, actor: User | None) -> Role:
    """Take a role out of the archive so it can be assigned again. Idempotent."""
    locked = _locked_role(role)
    if locked.archived_at is None:
        return locked
    return audited_update(
        instance=locked,
        data={"archived_at": None},
        snapshot=_role_snapshot,
        actor=actor,
        action=AccessAuditEntry.Action.RESTORED,
        target_type=AccessAuditEntry.Target.ROLE,
        target_repr=locked.name,
    )


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
