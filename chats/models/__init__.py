"""Inboxes, conversations, messages, their audit trail and reply templates.

State changes live in `chats.services`; reads in `chats.selectors` (the access gate).

- `base`: `SoftDeleted`, the abstract `deleted_at`/`deleted_by` pair of deletable rows.
- `inboxes`: `Inbox`, the channel endpoints, and the defaults of their key and secret.
- `conversations`: `Conversation` and the indexes of every list order.
- `messages`: `Message`.
- `events`: `ConversationEvent`, the audit trail.
- `reply_templates`: `ReplyTemplate`.
- `topic_rules`: `TopicRule`, routing by topic.
- `channels`: `MessageRevision`, `TelegramUpdate`, `TelegramChat`, `DeliveryAttempt`.

The submodules are imported in the order the models were declared in, so the app registry
lists them (and each model's reverse relations) in that order. `_new_key` and `_new_secret`
are re-exported because migrations name them at this path.
"""

# Declaration order (see above), not alphabetical.
# isort: off
from chats.models.base import SoftDeleted
from chats.models.inboxes import WIDGET_COLOR, Inbox, _new_key, _new_secret
from chats.models.conversations import Conversation
from chats.models.messages import Message
from chats.models.events import ConversationEvent
from chats.models.reply_templates import ReplyTemplate
from chats.models.topic_rules import TopicRule
from chats.models.channels import DeliveryAttempt, MessageRevision, TelegramChat, TelegramUpdate

# isort: on

__all__ = [
    "WIDGET_COLOR",
    "Conversation",
    "ConversationEvent",
    "DeliveryAttempt",
    "Inbox",
    "Message",
    "MessageRevision",
    "ReplyTemplate",
    "SoftDeleted",
    "TelegramChat",
    "TelegramUpdate",
    "TopicRule",
    "_new_key",
    "_new_secret",
]
