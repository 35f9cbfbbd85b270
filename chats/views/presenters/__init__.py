"""What the operator pages show: the list, thread and panel contexts, built from the
selectors (the gate) and rendered by the page and action views.

One module per part of the page: `listing` (the list pane), `thread`, `panel` (the customer
card), `page` (the whole page); `common` holds what they share. The names stay importable
from here.
"""

from chats.views.presenters.common import (
    ACTIONS,
    PAGE_SIZE,
    TEMPLATE_OPTIONS,
    THREAD_LIMIT,
    TIMELINE_EVENTS,
    EventType,
    Status,
    is_htmx,
    time_zone_of,
)
from chats.views.presenters.listing import (
    CONTACT_KINDS,
    ListState,
    list_context,
    list_row,
    list_state,
    register_row_related,
    show_contacts,
    with_contact,
)
from chats.views.presenters.page import render_page
from chats.views.presenters.panel import (
    CARD_PART,
    ContactStats,
    contact_stats,
    panel_context,
)
from chats.views.presenters.rows import Row, register_row_part, row_html, row_of
from chats.views.presenters.thread import TimelineItem, thread_context, thread_message

__all__ = [
    "ACTIONS",
    "CARD_PART",
    "CONTACT_KINDS",
    "PAGE_SIZE",
    "TEMPLATE_OPTIONS",
    "THREAD_LIMIT",
    "TIMELINE_EVENTS",
    "ContactStats",
    "EventType",
    "ListState",
    "Row",
    "Status",
    "TimelineItem",
    "contact_stats",
    "is_htmx",
    "list_context",
    "list_row",
    "list_state",
    "panel_context",
    "register_row_part",
    "register_row_related",
    "render_page",
    "row_html",
    "row_of",
    "show_contacts",
    "thread_context",
    "thread_message",
    "time_zone_of",
    "with_contact",
]
