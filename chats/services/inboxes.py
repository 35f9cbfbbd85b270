"""Writes for inboxes."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from chats.models import Inbox, _new_secret


@transaction.atomic
def inbox_save(*, inbox: Inbox, actor: Any) -> Inbox:
    inbox.full_clean()
    inbox.save()
    return inbox


@transaction.atomic
def inbox_rotate_secret(*, inbox: Inbox, actor: Any) -> str:
    """Issue a new secret; the old one stops working at once. Returns the new secret.

    A Telegram inbox's secret is also its webhook's `secret_token`: the webhook is registered
    again with the new one, and if Telegram refuses, nothing changes (ValidationError) so
    that updates keep arriving with the old one.
    """
    secret = _new_secret()
    Inbox.objects.filter(pk=inbox.pk).update(secret=secret)
    inbox.secret = secret
    if inbox.kind == Inbox.Kind.TELEGRAM and inbox.bot_token:
        from chats.channels.telegram.delivery import WebhookNotSet, telegram_webhook_register

        try:
            telegram_webhook_register(inbox=inbox)
        except WebhookNotSet as problem:
            raise ValidationError(
                _("The secret was not changed: %(reason)s") % {"reason": problem}
            ) from problem
    return secret
