"""The access audit: one `AccessAuditEntry` per change to access, with the state before
and after, and the one way to update a model's fields with that audit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from accounts.models import AccessAuditEntry, User


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
    """Set `data` on `instance` and save only those fields (and `updated_at` when the model
    has one), HackSoft's `model_update`; audit the `snapshot` before and after."""
    before = snapshot(instance)
    for name, value in data.items():
        setattr(instance, name, value)
    update_fields = list(data)
    if any(f.name == "updated_at" for f in instance._meta.concrete_fields):
        update_fields.append("updated_at")
    instance.save(update_fields=update_fields)
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
