"""The side panel: the customer card, their contacts and previous conversations, and how
they have been in touch (`contact_stats`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.db.models import Count, Max
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.access import Capability, has_capability, profile_of
from chats.contact_stats import contact_figures
from chats.models import Conversation, Inbox
from chats.selectors import can_act, customer_conversations, customer_identities
from chats.views.presenters.listing import ListState
from customers.loyalty import goodwill_limit
from customers.selectors import customer_card

# --- the side panel: the customer card -----------------------------------------------------------


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


def contact_stats(customer_id: int) -> ContactStats:
    """Conversations by channel (with the last contact) and by topic, then what the apps built
    on chats add (`chats.contact_stats`: calls from telephony, average CSAT from analytics).
    Two queries, and one for each registered source."""
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
    calls, csat, answers = 0, None, 0
    for figures in contact_figures(customer_id):
        calls += figures.calls
        if figures.last_call is not None:
            lasts.append(figures.last_call)
        if figures.csat is not None:
            csat, answers = figures.csat, figures.csat_answers
    if calls:
        by_channel.append((_("phone calls"), calls))
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
