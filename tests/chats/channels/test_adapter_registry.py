"""Every channel's adapter is registered when the app is ready, not on first use."""

from __future__ import annotations

from chats import adapters
from chats.channels.client.delivery import PullAdapter
from chats.channels.telegram.delivery import TelegramAdapter
from chats.models import Inbox


def test_every_inbox_kind_has_its_adapter_once_the_app_is_ready() -> None:
    registered = adapters._ADAPTERS

    assert isinstance(registered[Inbox.Kind.TELEGRAM], TelegramAdapter)
    for kind in (Inbox.Kind.WIDGET, Inbox.Kind.MOBILE, Inbox.Kind.API):
        assert isinstance(registered[kind], PullAdapter)
    assert set(registered) == set(Inbox.Kind.values)
