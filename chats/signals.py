"""Signals other apps listen to (they may import chats; chats never imports them).

Sent after the transaction that made the change commits, with ids only: a receiver re-reads
what it needs and never runs inside the service's transaction.
"""

from __future__ import annotations

from django.dispatch import Signal

# A conversation was closed (and the close committed). kwargs: id (the conversation's).
conversation_closed = Signal()
