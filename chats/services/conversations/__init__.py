"""Every state change of a conversation. Each runs in one transaction on a locked row, writes
its `ConversationEvent` and publishes its live event on commit.

One module per part (the row lock, the audit event, the refusals and the settling of loads
are shared, in `chats.services.common`):

* `assignment`: assign, take, unassign, transfer, priority.
* `reopening`: a conversation open again (woken or reopened) goes back to its operator if
  they have room, otherwise to the queue; used by `snooze`, `lifecycle` and
  `chats.services.messages.inbound`.
* `snooze`: snooze, unsnooze, and waking those whose time has come.
* `lifecycle`: close, reopen, soft delete and restore, mark read.

The undo of a close lives in `chats.services.close_undo`; its public names are importable
from here too. Import the services from here; a test that patches a name must patch it in
the module that looks it up.
"""

from chats.services.close_undo import close_undoable_until, conversation_close_undo
from chats.services.common import ActionRefused
from chats.services.conversations.assignment import (
    conversation_assign,
    conversation_set_priority,
    conversation_take,
    conversation_transfer,
    conversation_unassign,
)
from chats.services.conversations.lifecycle import (
    conversation_close,
    conversation_delete,
    conversation_mark_read,
    conversation_reopen,
    conversation_restore,
)
from chats.services.conversations.snooze import (
    conversation_snooze,
    conversation_unsnooze,
    conversation_wake_if_due,
    conversations_wake_due,
)

__all__ = [
    "ActionRefused",
    "close_undoable_until",
    "conversation_assign",
    "conversation_close",
    "conversation_close_undo",
    "conversation_delete",
    "conversation_mark_read",
    "conversation_reopen",
    "conversation_restore",
    "conversation_set_priority",
    "conversation_snooze",
    "conversation_take",
    "conversation_transfer",
    "conversation_unassign",
    "conversation_unsnooze",
    "conversation_wake_if_due",
    "conversations_wake_due",
]
