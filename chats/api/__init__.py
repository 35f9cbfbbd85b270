"""REST API of conversations, messages, actions, templates, search and the inbound channel
API. Views are thin: parse, gate (`chats.selectors`), one service or selector call, render;
errors map to statuses in one place for every app, `smartdesk.core.api_errors`."""

from __future__ import annotations

from chats.api.actions import (
    AssignView,
    CloseView,
    ConversationActionView,
    DeleteView,
    PriorityView,
    ReopenView,
    RestoreView,
    SnoozeView,
    TransferView,
    UnassignView,
    UndoCloseView,
    UnsnoozeView,
)
from chats.api.conversations import ConversationDetailView, ConversationListView, SearchView
from chats.api.customers import AdjustView, CustomerCardView, GoodwillDecisionView
from chats.api.inbound import InboundMessageView
from chats.api.messages import ConversationMessagesView, MessageDetailView
from chats.api.templates import TemplateListView, TemplateRenderView

__all__ = [
    "AdjustView",
    "AssignView",
    "CloseView",
    "ConversationActionView",
    "ConversationDetailView",
    "ConversationListView",
    "ConversationMessagesView",
    "CustomerCardView",
    "DeleteView",
    "GoodwillDecisionView",
    "InboundMessageView",
    "MessageDetailView",
    "PriorityView",
    "ReopenView",
    "RestoreView",
    "SearchView",
    "SnoozeView",
    "TemplateListView",
    "TemplateRenderView",
    "TransferView",
    "UnassignView",
    "UndoCloseView",
    "UnsnoozeView",
]
