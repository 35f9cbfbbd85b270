"""The thread: messages and audit events interleaved by time, each event told in one
translated sentence, and the actions offered on the conversation."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.access import Capability, has_capability
from chats.attachment_links import attachment_url
from chats.forms import DeleteForm, PriorityForm, SnoozeForm, TransferForm
from chats.models import Conversation, ConversationEvent, Message
from chats.selectors import (
    can_act,
    conversation_audit_events,
    effective_status,
    names_mentioned,
    thread_messages,
    thread_messages_queryset,
)
from chats.views.presenters.common import (
    ACTIONS,
    THREAD_LIMIT,
    TIMELINE_EVENTS,
    _when,
    time_zone_of,
)
from chats.views.presenters.listing import ListState

Status = Conversation.Status
EventType = ConversationEvent.Type

# --- the thread ------------------------------------------------------------------------------


@dataclass
class TimelineItem:
    at: datetime
    message: Message | None = None
    event_type: str = ""
    text: str = ""
    detail: str = ""
    attachments: list[dict[str, str]] = field(default_factory=list)

    @property
    def is_event(self) -> bool:
        return self.message is None


def thread_message(user: Any, conversation: Conversation, pk: int) -> TimelineItem | None:
    """One message of a conversation the caller got through the gate, as the thread shows it
    (deleted ones only for the roles that see them); None otherwise."""
    found = thread_messages_queryset(user, conversation).filter(pk=pk).first()
    if found is None:
        return None
    return TimelineItem(at=found.created_at, message=found, attachments=_attachments(found))


def _safe_url(url: Any) -> str:
    """Only web links and our own paths become links; anything else (javascript:, data:)
    is shown as a name only."""
    if not isinstance(url, str) or not url:
        return ""
    if url.startswith("/") and not url.startswith("//"):
        return url
    return url if urlsplit(url).scheme in ("http", "https") else ""


def _attachments(message: Message) -> list[dict[str, str]]:
    """Stored files link to the download view (access checked there); a file that was
    refused keeps its name and the reason (`error`)."""
    found = []
    for index, item in enumerate(message.attachments or []):
        if not isinstance(item, dict):
            continue
        stored = bool(item.get("path"))
        url = attachment_url(message, index) if stored else _safe_url(item.get("url"))
        name = str(item.get("name") or (url.rsplit("/", 1)[-1] if url else "") or _("attachment"))
        found.append({"name": name, "url": url, "error": str(item.get("error") or "")})
    return found


def _describe(
    event: ConversationEvent, users: dict[int, str], teams: dict[int, str]
) -> tuple[str, str]:
    """What happened, in one translated sentence, and an optional detail (a reason)."""
    data = event.data or {}
    actor = str(event.actor) if event.actor else None
    who = {"actor": actor or _("Smartdesk")}
    to_user = users.get(data.get("to_user"), "")
    reason = str(data.get("reason") or "")
    kind = event.type
    if kind == EventType.ASSIGNED:
        if event.actor_id and data.get("to_user") == event.actor_id:
            return _("%(actor)s took the conversation.") % who, ""
        return _("%(actor)s assigned the conversation to %(operator)s.") % {
            **who,
            "operator": to_user,
        }, ""
    if kind == EventType.UNASSIGNED:
        return _("%(actor)s returned the conversation to the team queue.") % who, ""
    if kind == EventType.TRANSFERRED:
        target = [teams.get(data.get("to_team"), "")] if data.get("to_team") else []
        if to_user:
            target.append(to_user)
        return _("%(actor)s transferred the conversation to %(target)s.") % {
            **who,
            "target": " / ".join(t for t in target if t) or _("the queue"),
        }, (_("Reason: %(reason)s") % {"reason": reason} if reason else "")
    if kind == EventType.PRIORITY:
        label = dict(Conversation.Priority.choices).get(data.get("after"), "?")
        return _("%(actor)s set the priority to %(priority)s.") % {**who, "priority": label}, ""
    if kind == EventType.SNOOZED:
        until = data.get("until")
        if until:
            text = _("%(actor)s snoozed the conversation until %(time)s.") % {
                **who,
                "time": _when(datetime.fromisoformat(until)),
            }
            if data.get("wake_on_reply"):
                text += " " + _("It wakes earlier if the customer writes.")
        else:
            text = _("%(actor)s snoozed the conversation until the customer replies.") % who
        return text, (_("Reason: %(reason)s") % {"reason": reason} if reason else "")
    if kind == EventType.WOKE:
        cause = data.get("cause")
        if cause == "reply":
            return _("The customer wrote: the conversation woke up."), ""
        if cause == "time":
            return _("The snooze time passed: the conversation woke up."), ""
        return _("%(actor)s woke the conversation up.") % who, ""
    if kind == EventType.CLOSED:
        return _("%(actor)s closed the conversation.") % who, ""
    if kind == EventType.REOPENED:
        if data.get("cause") == "customer":
            return _("The customer wrote again: the conversation reopened."), ""
        return _("%(actor)s reopened the conversation.") % who, ""
    if kind == EventType.DELETED:
        return _("%(actor)s deleted the conversation.") % who, (
            _("Reason: %(reason)s") % {"reason": reason} if reason else ""
        )
    if kind == EventType.RESTORED:
        return _("%(actor)s restored the conversation.") % who, ""
    return str(event.get_type_display()), ""


def _timeline(user: Any, conversation: Conversation) -> list[TimelineItem]:
    """Messages and audit events interleaved by time. A fixed number of queries: the
    messages, the events, and the names the events mention."""
    messages = thread_messages(user, conversation, limit=THREAD_LIMIT)
    since = messages[0].created_at if len(messages) >= THREAD_LIMIT else None
    events = conversation_audit_events(
        conversation, types=TIMELINE_EVENTS, since=since, limit=THREAD_LIMIT
    )
    users, teams = names_mentioned(events)
    items = [
        TimelineItem(at=m.created_at, message=m, attachments=_attachments(m)) for m in messages
    ]
    for event in events:
        text, detail = _describe(event, users, teams)
        items.append(TimelineItem(at=event.at, event_type=event.type, text=text, detail=detail))
    # Stable: at the same instant a message comes before the event it caused.
    items.sort(key=lambda item: (item.at, item.is_event))
    return items


def _action_urls(pk: int, state: ListState) -> dict[str, str]:
    suffix = state.suffix()
    return {name: reverse(f"conversation-{name}", args=[pk]) + suffix for name in ACTIONS}


def thread_context(request: HttpRequest, conversation: Conversation, state: ListState) -> dict:
    user = request.user
    status = effective_status(conversation)
    deleted = conversation.deleted_at is not None
    # A role that only looks (reports, exports) is offered no action: the gate refuses them.
    acting = can_act(user)
    return {
        "conversation": conversation,
        "status": status,
        "status_label": Status(status).label,
        "deleted": deleted,
        "timeline": _timeline(user, conversation),
        "urls": _action_urls(conversation.pk, state),
        "list_query": state.suffix(),
        "offer": {
            "reply": acting,
            "take": not deleted and status != Status.CLOSED and conversation.assignee_id is None,
            "unassign": not deleted and conversation.assignee_id is not None,
            "transfer": not deleted and status != Status.CLOSED,
            "priority": not deleted,
            "snooze": not deleted and status == Status.OPEN,
            "unsnooze": not deleted and status == Status.SNOOZED,
            "close": not deleted and status != Status.CLOSED,
            "reopen": not deleted and status == Status.CLOSED,
            "delete": not deleted,
            "restore": deleted and has_capability(user, Capability.RESTORE_CONVERSATIONS),
            "delete_messages": not deleted,
        }
        if acting
        else {"reply": False},
        "transfer_form": TransferForm(auto_id="transfer-%s"),
        "priority_form": PriorityForm(initial={"priority": conversation.priority}),
        "snooze_form": SnoozeForm(
            tz=time_zone_of(user), now=timezone.now(), auto_id="snooze-%s", initial={"preset": "1h"}
        ),
        "delete_form": DeleteForm(auto_id="delete-%s"),
        "time_zone": time_zone_of(user).key,
    }
