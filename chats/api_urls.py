"""REST API routes for conversations, messages, actions, templates, search, and the inbound
channel API (mounted under /api/v1/)."""

from __future__ import annotations

from django.urls import path

from chats import api

ACTIONS = {
    "assign": api.AssignView,
    "unassign": api.UnassignView,
    "transfer": api.TransferView,
    "priority": api.PriorityView,
    "snooze": api.SnoozeView,
    "unsnooze": api.UnsnoozeView,
    "close": api.CloseView,
    "undo-close": api.UndoCloseView,
    "reopen": api.ReopenView,
    "delete": api.DeleteView,
    "restore": api.RestoreView,
}

urlpatterns = [
    path("conversations/", api.ConversationListView.as_view(), name="api-conversations"),
    path(
        "conversations/<int:pk>/",
        api.ConversationDetailView.as_view(),
        name="api-conversation",
    ),
    path(
        "conversations/<int:pk>/messages/",
        api.ConversationMessagesView.as_view(),
        name="api-conversation-messages",
    ),
    *(
        path(
            f"conversations/<int:pk>/{action}/",
            view.as_view(),
            name=f"api-conversation-{action}",
        )
        for action, view in ACTIONS.items()
    ),
    path("messages/<int:pk>/", api.MessageDetailView.as_view(), name="api-message"),
    path("templates/", api.TemplateListView.as_view(), name="api-templates"),
    path(
        "templates/<int:pk>/render/",
        api.TemplateRenderView.as_view(),
        name="api-template-render",
    ),
    path("search/", api.SearchView.as_view(), name="api-search"),
    path("customers/<int:pk>/card/", api.CustomerCardView.as_view(), name="api-customer-card"),
    # Customer-level writes, through the gate's write form.
    path(
        "customers/<int:pk>/loyalty/adjust/",
        api.AdjustView.as_view(),
        name="api-loyalty-adjust",
    ),
    path(
        "loyalty/goodwill/<int:pk>/decision/",
        api.GoodwillDecisionView.as_view(),
        name="api-goodwill-decision",
    ),
    path(
        "inboxes/<str:key>/messages/",
        api.InboundMessageView.as_view(),
        name="api-inbox-messages",
    ),
]
