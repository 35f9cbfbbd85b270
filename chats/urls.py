"""Operator UI routes: the inbox, a conversation's fragments, and the actions (POST)."""

from __future__ import annotations

from django.urls import path

from chats import views
from chats.views import queue

urlpatterns = [
    path("inbox/", views.inbox_page, name="inbox"),
    path("inbox/list/", views.inbox_list, name="inbox-list"),
    path("inbox/queue/", queue.queue_page, name="queue"),
    path("inbox/queue/fragment/", queue.queue_fragment, name="queue-fragment"),
    path("inbox/c/<int:pk>/", views.conversation_page, name="conversation"),
    path("inbox/c/<int:pk>/thread/", views.conversation_thread, name="conversation-thread"),
    path("inbox/c/<int:pk>/panel/", views.conversation_panel, name="conversation-panel"),
    path(
        "inbox/c/<int:pk>/templates/",
        views.conversation_templates,
        name="conversation-templates",
    ),
    path("inbox/c/<int:pk>/send/", views.conversation_send, name="conversation-send"),
    path("inbox/c/<int:pk>/read/", views.conversation_read, name="conversation-read"),
    path("inbox/c/<int:pk>/take/", views.conversation_take, name="conversation-take"),
    path("inbox/c/<int:pk>/unassign/", views.conversation_unassign, name="conversation-unassign"),
    path("inbox/c/<int:pk>/transfer/", views.conversation_transfer, name="conversation-transfer"),
    path(
        "inbox/c/<int:pk>/transfer/picker/",
        views.conversation_transfer_picker,
        name="conversation-transfer-picker",
    ),
    path("inbox/c/<int:pk>/priority/", views.conversation_priority, name="conversation-priority"),
    path("inbox/c/<int:pk>/snooze/", views.conversation_snooze, name="conversation-snooze"),
    path("inbox/c/<int:pk>/unsnooze/", views.conversation_unsnooze, name="conversation-unsnooze"),
    path("inbox/c/<int:pk>/close/", views.conversation_close, name="conversation-close"),
    path(
        "inbox/c/<int:pk>/undo-close/",
        views.conversation_undo_close,
        name="conversation-undo-close",
    ),
    path("inbox/c/<int:pk>/reopen/", views.conversation_reopen, name="conversation-reopen"),
    path("inbox/c/<int:pk>/delete/", views.conversation_delete, name="conversation-delete"),
    path("inbox/c/<int:pk>/restore/", views.conversation_restore, name="conversation-restore"),
    path("inbox/m/<int:pk>/delete/", views.message_delete, name="message-delete"),
]
