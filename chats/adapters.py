"""Channel adapters: the boundary where a message leaves Smartdesk for a customer channel.

Every adapter goes through `ChannelAdapter.send`, which lets nothing but a reply out: an
internal note or a system event raises before any channel code runs.

The channels register their adapters in `ChatsConfig.ready` (`register`); this module imports
no channel.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from chats.models import Inbox, Message


class NotDeliverable(Exception):
    """The channel refuses this message for good (no retry)."""


class TransientDeliveryError(Exception):
    """The channel failed for now; the delivery task retries with backoff."""


class RetryLater(TransientDeliveryError):
    """The channel said when to come back (Telegram's 429 `retry_after`): the task retries
    after exactly that long instead of its own backoff."""

    def __init__(self, message: str, *, seconds: float) -> None:
        super().__init__(message)
        self.seconds = seconds


class ChannelAdapter:
    kind: str = ""

    def send(self, message: Message) -> str | None:
        """Deliver one reply; return the channel's id for it, if it gives one."""
        if message.kind != Message.Kind.OUTBOUND:
            raise NotDeliverable(_("Only replies are sent to the customer; notes never leave."))
        if message.deleted_at is not None:
            raise NotDeliverable(_("The message was deleted before it was sent."))
        return self._send(message)

    def _send(self, message: Message) -> str | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def secret_changed(self, inbox: Inbox) -> None:
        """The inbox was given a new secret (not committed yet). A channel that holds the old
        one is handed the new one here; raising `ValidationError` keeps the old secret. The
        clients that fetch their replies have nothing to do."""


_ADAPTERS: dict[str, ChannelAdapter] = {}


def register(kind: str, adapter: ChannelAdapter) -> None:
    _ADAPTERS[kind] = adapter


def adapter_for(inbox: Inbox) -> ChannelAdapter | None:
    return _ADAPTERS.get(inbox.kind)
