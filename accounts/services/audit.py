"""The access audit: one `AccessAuditEntry` per change to access, with the state before
and after; the one way to update a model's fields with that audit (`audited_update`), and
the audit of a row created or saved whole (`_audit_saved`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from accounts.models import AccessAuditEntry, User
from smartdesk.core.updates import model_update


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


def audited_update(
    *,
    instance: Any,
    data: dict[str, Any],
    snapshot: Callable[[Any], dict[str, Any]],
    actor: User | None,
    action: str,
    target_type: str,
    target_repr: str,
) -> Any:
    """Set `data` on `instance` and save only those fields (and the model's `auto_now` ones,
    `model_update`); audit the `snapshot` before and after."""
    before = snapshot(instance)
    model_update(instance, **data)
    _audit(
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=instance.pk,
        target_repr=target_repr,
        before=before,
        after=snapshot(instance),
    )
    return instance


def _audit_saved(
    *,
    actor: User | None,
    before: dict[str, Any] | None,
    after: dict[str, Any],
    target_type: str,
    target_id: int,
    target_repr: str,
) -> AccessAuditEntry | None:
    """Audit a row just saved: created when there was no `before` snapshot, changed when the
    snapshots differ; nothing when they are equal."""
    if before == after:
        return None
    return _audit(
        actor=actor,
        action=AccessAuditEntry.Action.CREATED
        if before is None
        else AccessAuditEntry.Action.CHANGED,
        target_type=target_type,
        target_id=target_id,
        target_repr=target_repr,
        before=before,
        after=after,
    )
