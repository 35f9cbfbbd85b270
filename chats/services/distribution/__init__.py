"""Automatic distribution: which operator gets which waiting conversation.

The rules are written down in docs/distribution.md. In short:

* A conversation *waits* when it is open, unassigned, not deleted and has a team: it sits in
  that team's queue, served by priority (urgent first), then by how long it has queued.
* An operator is *eligible* for it when online, active, their role is not archived, works on
  conversations and receives automatic assignments (`Role.receives_auto_assignment`), they are a
  member of the team, hold the required skill if any, and their load plus the conversation's
  weight stays within their capacity. Among the eligible: lowest load ratio, then longest
  since their last assignment (a fair round robin under equal load).
* Load is kept on `OperatorProfile.load` by every service that changes an assignee, a status
  or a deletion (`settle`), in the same transaction, and the database refuses a load above
  `capacity + overload`. A claim is a conditional UPDATE of the operator's row (the row lock
  serialises concurrent claims on one operator) under a lock on the conversation's row (which
  serialises claims on one conversation), so no number of workers can double-assign or
  overfill.
* Triggers only *request* a pass (a Celery task taking ids, idempotent); the sweep is the
  safety net.

One module per part, importing one way (`triggers` <- `load` <- `placement` <- `sweep`;
`intake` stands alone):

* `intake`: what a new conversation weighs (by channel) and the priority it starts with (the
  customer's loyalty tier, `customers.selectors.loyalty_priority`).
* `triggers`: requests for a pass, queued after commit.
* `load`: `snapshot` and `settle` around every change of a conversation, the operator's load
  charged and released, `AtCapacity` and its message.
* `placement`: eligible operators and their order, the claim, and the passes over one
  conversation, the queues, or one operator's teams.
* `sweep`: the periodic safety net (reassignment from away operators, load reconciliation).

`waiting_q`, `QUEUE_ORDER` and `is_waiting` are reads, in chats.selectors (re-exported here for
the queue gauges in smartdesk.core.metrics). A test that patches a name must patch it in the module
that looks it up.
"""

from chats.selectors import QUEUE_ORDER, is_waiting, waiting_q
from chats.services.distribution.intake import channel_weight, initial_priority
from chats.services.distribution.load import (
    FIELDS,
    AtCapacity,
    Snapshot,
    over_capacity_message,
    settle,
    snapshot,
)
from chats.services.distribution.placement import (
    distribute_conversation,
    distribute_queue,
    distribute_to_operator,
    eligible_operators,
)
from chats.services.distribution.sweep import (
    distribution_sweep,
    loads_reconcile,
    reassign_unanswered,
)
from chats.services.distribution.triggers import (
    on_operators_available,
    request_assignment,
    request_fill,
)

__all__ = [
    "FIELDS",
    "QUEUE_ORDER",
    "AtCapacity",
    "Snapshot",
    "channel_weight",
    "distribute_conversation",
    "distribute_queue",
    "distribute_to_operator",
    "distribution_sweep",
    "eligible_operators",
    "initial_priority",
    "is_waiting",
    "loads_reconcile",
    "on_operators_available",
    "over_capacity_message",
    "reassign_unanswered",
    "request_assignment",
    "request_fill",
    "settle",
    "snapshot",
    "waiting_q",
]
