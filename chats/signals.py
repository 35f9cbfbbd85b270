"""Signals other apps listen to (they may import chats; chats never imports them).

Sent after the transaction that made the change commits, with ids only: a receiver re-reads
what it needs and never runs inside the service's transaction.
"""

from __future__ import annotations

from django.dispatch import Signal

# A conversation was closed (and the close committed), and stayed closed through the undo
# window (`CLOSE_UNDO_SECONDS`, chats.tasks.conversation_close_settled). kwargs: id.
conversation_closed = Signal()

# A customer's message was stored (new, not a retry) and committed. kwargs: id (the message's),
# conversation_id. The AI classifier (analytics.ai) classifies the first ones.
customer_message_received = Signal()
