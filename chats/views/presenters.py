"""What the operator pages show: the list, thread and panel contexts, built from the
selectors (the gate) and rendered by the page and action views."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

from django.apps import apps
from django.conf import settings
from django.db.models import (
    Avg,
    Case,
    Count,
    IntegerField,
    Max,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from accounts.access import Capability, has_capability, profile_of, scope_of
from accounts.models import Role
from chats.forms import (
    DeleteForm,
    ListParamsForm,
    PriorityForm,
    SendForm,
    SnoozeForm,
    TransferForm,
)
from chats.models import Conversation, ConversationEvent, Inbox, Message
from chats.selectors import (
    can_act,
    conversation_audit_events,
    customer_conversations,
    customer_identities,
    effective_status,
    inbox,
    inbox_views,
    live_event_latest,
    names_mentioned,
    search_conversations,
    thread_messages,
    thread_messages_queryset,
    user_team_ids,
    visible_conversations,
    with_effective_status,
)
from chats.snooze import local_or_utc
from customers.loyalty import goodwill_limit
from customers.models import Identity
from customers.selectors import customer_card, mask_value

Status = Conversation.Status
EventType = ConversationEvent.Type

PAGE_SIZE = 50
THREAD_LIMIT = 200
TEMPLATE_OPTIONS = 10
# The audit events shown in the thread, between the messages.
TIMELINE_EVENTS = (
    EventType.ASSIGNED,
    EventType.UNASSIGNED,
    EventType.TRANSFERRED,
    EventType.PRIORITY,
    EventType.SNOOZED,
    EventType.WOKE,
    EventType.CLOSED,
    EventType.REOPENED,
    EventType.DELETED,
    EventType.RESTORED,
)
ACTIONS = (
    "send",
    "take",
    "unassign",
    "transfer",
    "priority",
    "snooze",
    "unsnooze",
    "close",
    "reopen",
    "delete",
    "restore",
)


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def time_zone_of(user: Any) -> ZoneInfo:
    profile = profile_of(user)
    return ZoneInfo(profile.time_zone if profile else settings.TIME_ZONE)


def _when(moment: datetime | None) -> str:
    """A short local date and time ("12 Mar, 14:05") in the activated (operator's) zone."""
    if moment is None:
        return ""
    return formats.date_format(local_or_utc(moment), "j M, H:i")


# --- the list pane ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ListState:
    """Which list the operator looks at; carried in every link so the list stays put."""

    view: str = "mine"
    q: str = ""
    page: int = 1

    def query(self, **changes: Any) -> str:
        values = {"view": self.view, "q": self.q, "page": self.page, **changes}
        kept = {
            key: value
            for key, value in values.items()
            if value and not (key == "page" and value == 1)
        }
        return urlencode(kept)

    def suffix(self, **changes: Any) -> str:
        query = self.query(**changes)
        return f"?{query}" if query else ""


def list_state(request: HttpRequest) -> ListState:
    return ListState(**ListParamsForm(request.GET).params())


# The contact a row shows for its customer, best first (an app id tells an operator nothing).
CONTACT_KINDS = (Identity.Kind.PHONE, Identity.Kind.EMAIL, Identity.Kind.TELEGRAM)


def with_contact(qs: QuerySet[Conversation]) -> QuerySet[Conversation]:
    """Annotate `contact`: the customer's best contact, in the same query as the rows."""
    rank = Case(
        *(When(kind=kind, then=Value(n)) for n, kind in enumerate(CONTACT_KINDS)),
        output_field=IntegerField(),
    )
    best = (
        Identity.objects.filter(customer_id=OuterRef("customer_id"), kind__in=CONTACT_KINDS)
        .order_by(rank, "value")
        .values("value")[:1]
    )
    return qs.annotate(contact=Subquery(best))


def show_contacts(rows: Iterable[Conversation], user: Any) -> None:
    """Set each row's `contact_shown`: in full only for roles that may see personal data,
    masked by the one masking rule otherwise (as on the customer card)."""
    show = has_capability(user, Capability.VIEW_CUSTOMER_PII)
    for row in rows:
        value = getattr(row, "contact", None) or ""
        row.contact_shown = value if show or not value else mask_value(value)  # type: ignore[attr-defined]


def list_row(user: Any, pk: int) -> Conversation | None:
    """One conversation as a list row shows it, through the gate (deleted ones for the roles
    that may restore them); None when the user may not see it. One query."""
    found = (
        with_contact(with_effective_status(visible_conversations(user, include_deleted=True)))
        .select_related("customer", "inbox", "assignee", "team")
        .filter(pk=pk)
        .first()
    )
    if found is not None:
        show_contacts([found], user)
    return found


def thread_message(user: Any, conversation: Conversation, pk: int) -> TimelineItem | None:
    """One message of a conversation the caller got through the gate, as the thread shows it
    (deleted ones only for the roles that see them); None otherwise."""
    found = thread_messages_queryset(user, conversation).filter(pk=pk).first()
    if found is None:
        return None
    return TimelineItem(at=found.created_at, message=found, attachments=_attachments(found))


def _list_filter(user: Any, state: ListState) -> dict[str, Any]:
    """What decides whether a conversation belongs in the list shown: the browser places a
    row pushed by the socket with it (static/js/operator.js). The teams are read only for the
    views that filter on them."""
    scope = scope_of(user)
    team_ids: list[int] = []
    if not state.q and (
        state.view == "team" or (state.view == "queue" and scope != Role.Scope.ALL)
    ):
        team_ids = list(user_team_ids(user).values_list("pk", flat=True))
    return {"user_id": user.pk, "scope": scope or "", "team_ids": team_ids}


def list_context(request: HttpRequest, state: ListState, current_id: int | None) -> dict:
    """One page of the list: a single query whatever the page size (rows carry their
    customer, inbox, assignee, team and contact)."""
    user = request.user
    if state.q:
        rows_qs = with_effective_status(search_conversations(user, state.q))
    else:
        rows_qs = inbox(user, view=state.view)
    offset = (state.page - 1) * PAGE_SIZE
    rows = list(with_contact(rows_qs)[offset : offset + PAGE_SIZE + 1])
    show_contacts(rows, user)
    has_more = len(rows) > PAGE_SIZE
    views = inbox_views(user)
    current_view = next((v for v in views if v.slug == state.view), None)
    # The list sits on the inbox page or beside an open conversation; its links stay there.
    page_path = reverse("conversation", args=[current_id]) if current_id else reverse("inbox")
    fragment_path = reverse("inbox-list")
    pages: dict[str, str | None] = {
        "next_url": None,
        "next_fragment_url": None,
        "previous_url": None,
        "previous_fragment_url": None,
    }
    if has_more:
        pages["next_url"] = page_path + state.suffix(page=state.page + 1)
        pages["next_fragment_url"] = fragment_path + state.suffix(
            page=state.page + 1, current=current_id
        )
    if state.page > 1:
        pages["previous_url"] = page_path + state.suffix(page=state.page - 1)
        pages["previous_fragment_url"] = fragment_path + state.suffix(
            page=state.page - 1, current=current_id
        )
    return {
        "views": views,
        "current_view": current_view,
        "state": state,
        "page_path": page_path,
        "list_query": state.suffix(),
        "rows": rows[:PAGE_SIZE],
        "current_id": current_id,
        "list_refresh_url": fragment_path + state.suffix(current=current_id),
        "list_filter": _list_filter(user, state),
        **pages,
    }


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
    from chats.channels.downloads import attachment_url

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


# --- the side panel: the customer card (#6) ---------------------------------------------------


@dataclass(frozen=True)
class ContactStats:
    """How the customer has been in touch: counted from all their conversations and calls
    (counts only, no content, so not limited to the ones this operator may open)."""

    total: int
    by_channel: list[tuple[str, int]]
    by_topic: list[tuple[str, int]]
    last_contact: datetime | None
    calls: int = 0
    csat: float | None = None  # average rating (1–5) of the answered surveys
    csat_answers: int = 0


def _model(label: str) -> Any:
    """A model of an app that may build on chats (telephony, analytics), found through the
    registry: chats must not import them, and works without them."""
    try:
        return apps.get_model(label)
    except LookupError:
        return None


def contact_stats(customer_id: int) -> ContactStats:
    """Conversations by channel (with the last contact) and by topic; calls; average CSAT.
    Four queries at most."""
    rows = list(
        Conversation.objects.filter(customer_id=customer_id, deleted_at__isnull=True)
        .values("inbox__kind")
        .annotate(n=Count("pk"), last=Max(Coalesce("last_message_at", "created_at")))
        .order_by("-n", "inbox__kind")
    )
    kinds = dict(Inbox.Kind.choices)
    topics = list(
        Conversation.objects.filter(customer_id=customer_id, deleted_at__isnull=True)
        .exclude(topic="")
        .values("topic")
        .annotate(n=Count("pk"))
        .order_by("-n", "topic")
        .values_list("topic", "n")[:5]
    )
    lasts = [r["last"] for r in rows if r["last"] is not None]
    by_channel = [(str(kinds.get(r["inbox__kind"], r["inbox__kind"])), r["n"]) for r in rows]
    calls = 0
    call_model = _model("telephony.Call")
    if call_model is not None:
        found = call_model.objects.filter(customer_id=customer_id).aggregate(
            n=Count("pk"), last=Max("started_at")
        )
        calls = found["n"]
        if found["last"] is not None:
            lasts.append(found["last"])
        if calls:
            by_channel.append((_("phone calls"), calls))
    csat, answers = None, 0
    csat_model = _model("analytics.CsatResponse")
    if csat_model is not None:
        found = csat_model.objects.filter(
            conversation__customer_id=customer_id, rating__isnull=False
        ).aggregate(avg=Avg("rating"), n=Count("pk"))
        csat, answers = found["avg"], found["n"]
    return ContactStats(
        total=sum(r["n"] for r in rows),
        by_channel=by_channel,
        by_topic=topics,
        last_contact=max(lasts) if lasts else None,
        calls=calls,
        csat=round(float(csat), 1) if csat is not None else None,
        csat_answers=answers,
    )


CARD_PART = "card"


def panel_context(
    request: HttpRequest, conversation: Conversation, state: ListState, *, lazy: bool = False
) -> dict:
    """The side panel: the customer's name, contacts and previous conversations, and their
    card (`customers.selectors.customer_card`: allergies, orders, loyalty, offers).

    The page renders the panel with the card left out (`lazy`): the card loads right after
    it, from this same fragment with `?part=card`. A refresh of the panel renders it whole.
    Either way a fixed number of queries, whatever the customer's history.
    """
    user = request.user
    show_pii = has_capability(user, Capability.VIEW_CUSTOMER_PII)
    customer = conversation.customer
    panel_url = reverse("conversation-panel", args=[conversation.pk])
    context: dict[str, Any] = {
        "conversation": conversation,
        "customer": customer,
        "list_query": state.suffix(),
        "card_url": f"{panel_url}?{urlencode({'part': CARD_PART})}",
        "card_lazy": lazy,
        "card_only": not lazy and request.GET.get("part") == CARD_PART,
    }
    if not context["card_only"]:
        context["identities"] = [
            {"kind": shown.label, "value": shown.value}
            for shown in customer_identities(user, customer)
        ]
        context["identities_masked"] = not show_pii
        context["previous"] = list(customer_conversations(user, conversation))
    if not lazy:
        context.update(
            {
                "card": customer_card(customer, user=user),
                "stats": contact_stats(customer.pk),
                "goodwill_url": reverse("conversation-goodwill", args=[conversation.pk])
                + state.suffix(),
                "goodwill_limit": goodwill_limit(user),
                "goodwill_period": _goodwill_period(user),
                "can_goodwill": conversation.deleted_at is None and can_act(user),
                "goodwill_form": None,
                "goodwill_errors": [],
                "goodwill_notice": "",
            }
        )
    return context


def _goodwill_period(user: Any) -> dict[str, int] | None:
    """The role's goodwill limit per rolling period, for the card's hint (None: no such limit;
    `customers.loyalty.goodwill_grant` enforces it)."""
    profile = profile_of(user) if not getattr(user, "is_superuser", False) else None
    role = profile.role if profile is not None else None
    if role is None or role.goodwill_period_points_limit is None:
        return None
    return {"limit": role.goodwill_period_points_limit, "days": role.goodwill_period_days}


# --- pages -----------------------------------------------------------------------------------


def _js_strings() -> dict[str, str]:
    return {
        "live": _("Live"),
        "connecting": _("Connecting…"),
        "reconnecting": _("Offline, reconnecting…"),
        "stopped": _("Live updates stopped: reload the page."),
        "newMessage": _("New message in this conversation."),
        "gone": _("This conversation is no longer available to you."),
        "reply": _("Send reply"),
        "note": _("Add note"),
        "replyLabel": _("Reply to the customer"),
        "noteLabel": _("Internal note (only colleagues see it)"),
        "templates": _("%(n)s templates. Up and down arrows choose, Enter inserts."),
        "noTemplates": _("No template starts with this shortcut."),
        # The screen-pop of a call (static/js/callpop.js).
        "callIncoming": _("Incoming call: %(name)s"),
        "callOutgoing": _("Outgoing call"),
        "callOutgoingTo": _("Outgoing call: %(name)s"),
        "callUnknown": _("Unknown caller"),
        "callWithheld": _("Number withheld"),
        "callQueue": _("Queue"),
        "callRinging": _("Ringing…"),
        "callAnswered": _("Answered"),
        "callEnded": _("Call ended: add a note if needed."),
        "callStopped": _("Stopped ringing."),
        "callFailed": _("The call could not be placed"),
        "callClose": _("Close"),
        "callLoading": _("Loading the customer card…"),
        "callDialFailed": _("Could not start the call."),
    }


def _read_url(pk: int) -> str:
    """Where the browser says that the assignee has read what the socket just showed in the
    open thread (a pushed message does not reload the thread, which is what marked it read)."""
    return reverse("conversation-read", args=[pk])


def render_page(
    request: HttpRequest,
    *,
    state: ListState,
    conversation: Conversation | None = None,
    status: int = 200,
    errors: Iterable[str] = (),
    send_form: SendForm | None = None,
) -> HttpResponse:
    # Read before anything else on the page: every event committed after this id is newer
    # than what the page shows, and the socket resumes from it.
    live_after = live_event_latest()
    context = list_context(request, state, conversation.pk if conversation else None)
    context["live_after"] = live_after
    context["errors"] = list(errors)
    context["js_strings"] = _js_strings()
    if conversation is not None:
        context.update(thread_context(request, conversation, state))
        # The customer card is the heaviest part of the page: it loads right after it.
        context.update(panel_context(request, conversation, state, lazy=True))
        context["send_form"] = send_form or SendForm(auto_id="composer-%s")
        context["thread_url"] = reverse("conversation-thread", args=[conversation.pk])
        context["panel_url"] = reverse("conversation-panel", args=[conversation.pk])
        context["templates_url"] = reverse("conversation-templates", args=[conversation.pk])
        context["allergy_check_url"] = reverse("conversation-allergy-check", args=[conversation.pk])
        context["read_url"] = _read_url(conversation.pk) if can_act(request.user) else ""
    return render(request, "chats/inbox.html", context, status=status)
