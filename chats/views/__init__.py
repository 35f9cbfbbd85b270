"""The operator workspace: the inbox list, a conversation's thread and side panel, the actions.

Thin views: parse with a form (`chats.forms`), fetch through the gate (`conversation_for`,
`inbox`, `search_conversations`), call one service, then render the page, answer the htmx
fragment, or redirect. A conversation outside the user's scope is a 404 everywhere.

Every page is complete without JavaScript; `static/js/operator.js` only makes it live.
"""

from __future__ import annotations

from chats.views.actions import (
    conversation_close,
    conversation_delete,
    conversation_priority,
    conversation_read,
    conversation_reopen,
    conversation_restore,
    conversation_send,
    conversation_snooze,
    conversation_take,
    conversation_transfer,
    conversation_unassign,
    conversation_undo_close,
    conversation_unsnooze,
    message_delete,
)
from chats.views.pages import (
    conversation_page,
    conversation_panel,
    conversation_templates,
    conversation_thread,
    inbox_list,
    inbox_page,
)
from chats.views.transfer import conversation_transfer_picker

__all__ = [
    "conversation_close",
    "conversation_delete",
    "conversation_page",
    "conversation_panel",
    "conversation_priority",
    "conversation_read",
    "conversation_reopen",
    "conversation_restore",
    "conversation_send",
    "conversation_snooze",
    "conversation_take",
    "conversation_templates",
    "conversation_thread",
    "conversation_transfer",
    "conversation_transfer_picker",
    "conversation_unassign",
    "conversation_undo_close",
    "conversation_unsnooze",
    "inbox_list",
    "inbox_page",
    "message_delete",
]
