"""Read queries for conversations. `visible_conversations(user)` is the one access gate.

Pages, the API, the WebSocket consumer, search and exports all start from it. A conversation
outside the user's scope does not exist for them: `conversation_for` answers 404.

The gate has two modes. What a user may *see* is `visible_conversations`; what they may *act
on* is `actionable_conversations`: the same scope, but only for a role that works on
conversations (`Capability.HANDLE_CONVERSATIONS`). Every write takes its object through the
write form: `conversation_for(..., for_write=True)`, `message_for(..., for_write=True)`,
`customer_for(..., for_write=True)`. Seen but not actionable answers 403; not seen, 404.

The package, by what each module holds: `gate` (the gate and the lookups through it:
conversations, messages, customers; the inbox a channel names), `status` (the effective
status and the active/snoozed predicates), `lists` (the inbox's list views),
`conversation_page` (thread, audit events, customer panel, reply templates), `search`,
`live_events` (live groups and replay), `queues` (the team queues, the queue view, where a
waiting conversation stands). Imports between them go one way: everything reads through
`gate`.

Callers import from `chats.selectors`; a test that patches a name here (e.g.
`chats.selectors.visible_conversations`) reaches only callers that look it up here at call
time, not the modules of this package.
"""

from __future__ import annotations

from chats.selectors.conversation_page import (
    ShownIdentity,
    conversation_audit_events,
    customer_conversations,
    customer_identities,
    names_mentioned,
    templates_for,
    thread_messages,
    thread_messages_queryset,
)
from chats.selectors.gate import (
    Facts,
    actionable_conversations,
    actionable_customers,
    can_act,
    conversation_for,
    customer_for,
    inbox_for_key,
    may_see,
    message_for,
    team_ids_of,
    user_team_ids,
    visible_conversations,
    visible_customers,
)
from chats.selectors.lists import (
    INBOX_VIEWS,
    ROW_RELATED_COLUMNS,
    InboxView,
    inbox,
    inbox_views,
    with_row_columns,
)
from chats.selectors.live_events import (
    ADMIN_EVENT_TYPES,
    live_event_conversation_facts,
    live_event_heads,
    live_event_horizon,
    live_event_ids,
    live_event_latest,
    live_event_watermark,
    live_events_by_seq,
    live_events_since,
    live_groups_for,
    may_replay,
)
from chats.selectors.queues import (
    QUEUE_ORDER,
    OperatorRow,
    QueuedRow,
    QueueStatus,
    TeamQueue,
    is_waiting,
    queue_overview,
    queue_status,
    waiting_q,
)
from chats.selectors.search import search_conversations
from chats.selectors.status import (
    Status,
    active_q,
    effective_status,
    is_due,
    snoozed_q,
    with_effective_status,
)

__all__ = [
    "ADMIN_EVENT_TYPES",
    "INBOX_VIEWS",
    "QUEUE_ORDER",
    "ROW_RELATED_COLUMNS",
    "Facts",
    "InboxView",
    "OperatorRow",
    "QueueStatus",
    "QueuedRow",
    "ShownIdentity",
    "Status",
    "TeamQueue",
    "actionable_conversations",
    "actionable_customers",
    "active_q",
    "can_act",
    "conversation_audit_events",
    "conversation_for",
    "customer_conversations",
    "customer_for",
    "customer_identities",
    "effective_status",
    "inbox",
    "inbox_for_key",
    "inbox_views",
    "is_due",
    "is_waiting",
    "live_event_conversation_facts",
    "live_event_heads",
    "live_event_horizon",
    "live_event_ids",
    "live_event_latest",
    "live_event_watermark",
    "live_events_by_seq",
    "live_events_since",
    "live_groups_for",
    "may_replay",
    "may_see",
    "message_for",
    "names_mentioned",
    "queue_overview",
    "queue_status",
    "search_conversations",
    "snoozed_q",
    "team_ids_of",
    "templates_for",
    "thread_messages",
    "thread_messages_queryset",
    "user_team_ids",
    "visible_conversations",
    "visible_customers",
    "waiting_q",
    "with_effective_status",
    "with_row_columns",
]
