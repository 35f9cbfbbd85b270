"""Writes for inboxes."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from chats.adapters import adapter_for
from chats.models import Inbox, _new_secret


@transaction.atomic
def inbox_save(*, inbox: Inbox, actor: Any) -> Inbox:
    inbox.full_clean()
    inbox.save()
    return inbox


@transaction.atomic
def inbox_rotate_secret(*, inbox: Inbox, actor: Any) -> str:
    """Issue a new secret; the old one stops working at once. Returns the new secret.

    The inbox's channel is handed the new secret (`ChannelAdapter.secret_changed`: Telegram
    registers its webhook again); if the channel refuses, nothing changes (ValidationError).
    """
    secret = _new_secret()
    Inbox.objects.filter(pk=inbox.pk).update(secret=secret)
    inbox.secret = secret
    adapter = adapter_for(inbox)
    if adapter is not None:
        adapter.secret_changed(inbox)
    return secret
