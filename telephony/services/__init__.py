"""Every write of telephony: calls built from AMI events, wrap-up, notes, click-to-call,
routing rules, PBX settings.

`call_event_apply()` is the listener's one entry point. It is idempotent: an event already
stored for its call (same Uniqueid, same content) changes nothing, and every transition only
moves forward, because Asterisk orders events within one channel only.

Import the services from here (`from telephony.services import call_event_apply`); the
modules hold them by subject:

| module | what |
|---|---|
| `ami_events` | `call_event_apply` and the handler of each AMI event |
| `call_state` | how a call moves: ringing an operator, answering, finishing |
| `wrapup` | wrap-up release, the sweep of due wrap-ups and stale calls |
| `call_actions` | the operator's note, one-click customer, follow-up conversation |
| `click_to_call` | `call_originate`, the Originate fields, failed Originates |
| `routing` | routing rules |
| `pbx` | PBX settings |
| `common` | what the above share (operators' phones, raw events) |
"""

from telephony.numbers import number_normalise
from telephony.route_cache import ROUTE_RULES_VERSION_KEY, route_rules_changed
from telephony.services.ami_events import (
    CHANNEL_STATE_UP,
    HANDLED_EVENTS,
    ORIGINATE_RESPONSE,
    call_event_apply,
)
from telephony.services.call_actions import (
    call_customer_create,
    call_followup_open,
    call_note_save,
    followup_inbox_for,
)
from telephony.services.click_to_call import (
    FailReason,
    OriginateRequest,
    call_originate,
    call_originate_failed,
    originate_fields,
)
from telephony.services.common import (
    Outcome,
    customer_id_for_number,
    event_time,
    fingerprint,
    interface_of,
    operator_for,
)
from telephony.services.pbx import pbx_save
from telephony.services.routing import route_rule_delete, route_rule_save
from telephony.services.wrapup import (
    call_wrapup_release,
    calls_close_stale,
    calls_release_due_wrapups,
)

__all__ = [
    "CHANNEL_STATE_UP",
    "HANDLED_EVENTS",
    "ORIGINATE_RESPONSE",
    "ROUTE_RULES_VERSION_KEY",
    "FailReason",
    "OriginateRequest",
    "Outcome",
    "call_customer_create",
    "call_event_apply",
    "call_followup_open",
    "call_note_save",
    "call_originate",
    "call_originate_failed",
    "call_wrapup_release",
    "calls_close_stale",
    "calls_release_due_wrapups",
    "customer_id_for_number",
    "event_time",
    "fingerprint",
    "followup_inbox_for",
    "interface_of",
    "number_normalise",
    "operator_for",
    "originate_fields",
    "pbx_save",
    "route_rule_delete",
    "route_rule_save",
    "route_rules_changed",
]
