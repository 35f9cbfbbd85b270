"""Messages in and out: ingest from channels (idempotent), replies, notes, deletion, delivery.

One module per part, importing one way (`common` <- `inbound`, `thread`, `delivery`):
`inbound` (customers' messages from channels, their edits), `thread` (replies, notes,
deletion, system lines), `delivery` (the outbox). Import from here:
`from chats.services import messages as message_services`. A test that patches a name must
patch it in the module that uses it.
"""

from chats.services.messages.common import MAX_BODY, PREVIEW
from chats.services.messages.delivery import (
    DELIVERY_BACKOFF_MAX,
    DELIVERY_MAX_TRIES,
    DeliveryClaimLost,
    DeliveryPostponed,
    _delivery_claim,
    message_deliver,
    message_delivery_due,
    message_delivery_give_up,
    message_delivery_keep_claim,
)
from chats.services.messages.inbound import (
    DuplicateDelivery,
    message_edit_from_channel,
    message_receive,
    message_receive_from_channel,
)
from chats.services.messages.thread import (
    message_delete,
    message_note,
    message_reply,
    message_system,
)

__all__ = [
    "DELIVERY_BACKOFF_MAX",
    "DELIVERY_MAX_TRIES",
    "MAX_BODY",
    "PREVIEW",
    "DeliveryClaimLost",
    "DeliveryPostponed",
    "DuplicateDelivery",
    "_delivery_claim",
    "message_delete",
    "message_deliver",
    "message_delivery_due",
    "message_delivery_give_up",
    "message_delivery_keep_claim",
    "message_edit_from_channel",
    "message_note",
    "message_receive",
    "message_receive_from_channel",
    "message_reply",
    "message_system",
]
