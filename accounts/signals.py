"""Receivers that keep sign-in safe whatever path changed the user.

A password is changed or reset through Django's forms (the admin's password page, a reset
link, ``changepassword``), and a user is deactivated through ``services.user_save``; none of
them should leave an API token working. django-axes' lockouts are audited for the user.
"""

from __future__ import annotations

from typing import Any

from axes.helpers import get_cool_off
from axes.signals import user_locked_out
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from accounts import services
from accounts.models import User

_WATCHED = {"password", "is_active"}


@receiver(pre_save, sender=User, dispatch_uid="accounts-token-revocation-before")
def _remember_credentials(
    sender: type[User], instance: User, update_fields: Any = None, **kwargs: Any
) -> None:
    if instance.pk is None or (update_fields is not None and not _WATCHED & set(update_fields)):
        instance._credentials_before = None  # type: ignore[attr-defined]
        return
    instance._credentials_before = (  # type: ignore[attr-defined]
        User.objects.filter(pk=instance.pk).values("password", "is_active").first()
    )


@receiver(post_save, sender=User, dispatch_uid="accounts-token-revocation-after")
def _revoke_tokens(sender: type[User], instance: User, created: bool, **kwargs: Any) -> None:
    before = getattr(instance, "_credentials_before", None)
    instance._credentials_before = None  # type: ignore[attr-defined]
    if created or before is None:
        return
    # set_password() leaves `_password` set until save() ends; a hash upgrade at sign-in
    # (same password, stronger hasher) clears it first and is not a change.
    password_changed = before["password"] != instance.password and (
        getattr(instance, "_password", None) is not None or not instance.has_usable_password()
    )
    if password_changed:
        services.api_tokens_revoke(user=instance, reason="password changed")
    elif before["is_active"] and not instance.is_active:
        services.api_tokens_revoke(user=instance, reason="deactivated")


@receiver(user_locked_out, dispatch_uid="accounts-lockout-audit")
def _audit_lockout(
    sender: Any, request: Any, username: str | None, ip_address: str | None, **kwargs: Any
) -> None:
    services.sign_in_lockout_record(
        username=username, ip_address=ip_address, cool_off=get_cool_off(request)
    )
