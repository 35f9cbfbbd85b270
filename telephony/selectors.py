"""Reads of telephony: which calls a user may see, a customer's calls (for the card's
history), and the queue the dialplan should send a caller to."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from accounts.access import scope_of
from accounts.models import Role
from chats.models import Conversation
from customers.models import Identity
from telephony.models import Call, CallOffer, Pbx, RouteRule
from telephony.numbers import number_normalise
from telephony.route_cache import ROUTE_RULES_VERSION_KEY


def visible_calls(user: Any) -> QuerySet[Call]:
    """Calls the user may open: all of them for a role of scope `all`; otherwise the calls they
    took, placed or were rung for. In SQL, one gate for pages, pop-ups and actions."""
    scope = scope_of(user)
    if scope is None:
        return Call.objects.none()
    if scope == Role.Scope.ALL:
        return Call.objects.all()
    rung = CallOffer.objects.filter(call=OuterRef("pk"), operator_id=user.pk)
    return Call.objects.filter(Q(operator_id=user.pk) | Q(originated_by_id=user.pk) | Exists(rung))


def call_for(user: Any, pk: int, *, for_write: bool = False) -> Call:
    """One call the user may see; missing and not visible are the same 404.

    `for_write` (a note, the one-click customer, a follow-up): only for a role that works on
    conversations (`chats.selectors.can_act`); one seen by a role that only looks is a
    PermissionDenied (403), like the conversation gate's write form."""
    from chats.selectors import can_act

    call = visible_calls(user).select_related("customer", "operator").filter(pk=pk).first()
    if call is None:
        raise Http404(_("No such call."))
    if for_write and not can_act(user):
        raise PermissionDenied(_("Your role may look at this call but not act on it."))
    return call


def customer_reachable_by(user: Any, customer_id: int) -> bool:
    """The user may call this customer: they can see one of the customer's conversations
    or calls (the card they click from is behind the same gates)."""
    from chats.selectors import visible_conversations

    return (
        visible_conversations(user).filter(customer_id=customer_id).exists()
        or visible_calls(user).filter(customer_id=customer_id).exists()
    )


def customer_to_call(user: Any, customer_id: int) -> int:
    """The write form of `customer_reachable_by`, for click-to-call: 404 for a customer the
    user cannot reach; 403 for one they reach with a role that only looks."""
    from chats.selectors import can_act

    if not customer_reachable_by(user, customer_id):
        raise Http404(_("No such customer."))
    if not can_act(user):
        raise PermissionDenied(_("Your role may look at this customer but not call them."))
    return customer_id


def customer_calls(*, customer_id: int, limit: int = 5) -> list[Call]:
    """The customer's latest calls, newest first, with their operator (one query). Shown in the
    customer's card next to their conversations: metadata and the operator's note."""
    return list(
        Call.objects.filter(customer_id=customer_id)
        .select_related("operator")
        .order_by("-started_at", "-pk")[:limit]
    )


def customer_call_count(*, customer_id: int) -> int:
    return Call.objects.filter(customer_id=customer_id).count()


# --- routing for the dialplan -----------------------------------------------------------------


@dataclass(frozen=True)
class CallerFacts:
    customer_id: int | None = None
    language: str = ""
    tier_threshold: Decimal | None = None


def _caller_facts(e164: str) -> CallerFacts:
    if not e164:
        return CallerFacts()
    row = (
        Identity.objects.filter(kind=Identity.Kind.PHONE, value=e164)
        .values("customer_id", "customer__language", "customer__loyalty__tier__threshold")
        .first()
    )
    if row is None:
        return CallerFacts()
    return CallerFacts(
        customer_id=row["customer_id"],
        language=(row["customer__language"] or "").lower(),
        tier_threshold=row["customer__loyalty__tier__threshold"],
    )


def _open_topics(customer_id: int, topics: set[str]) -> set[str]:
    if not topics:
        return set()
    return set(
        Conversation.objects.filter(
            customer_id=customer_id,
            status__in=[Conversation.Status.OPEN, Conversation.Status.SNOOZED],
            deleted_at__isnull=True,
            topic__in=topics,
        ).values_list("topic", flat=True)
    )


def route_queue_uncached(*, caller: str, did: str) -> str:
    """The first active rule that matches decides; no rule, no match, an unknown or malformed
    number: the default queue. Three queries at most (rules, the caller, open topics)."""
    rules = list(
        RouteRule.objects.filter(is_active=True).select_related("tier").order_by("position", "pk")
    )
    if not rules:
        return settings.TELEPHONY_DEFAULT_QUEUE
    facts = _caller_facts(caller)
    topics: set[str] = set()
    if facts.customer_id is not None:
        wanted = {r.value for r in rules if r.kind == RouteRule.Kind.OPEN_TOPIC}
        topics = _open_topics(facts.customer_id, wanted)
    for rule in rules:
        if _matches(rule, facts=facts, topics=topics, did=did):
            return rule.queue
    return settings.TELEPHONY_DEFAULT_QUEUE


def _matches(rule: RouteRule, *, facts: CallerFacts, topics: set[str], did: str) -> bool:
    kind = rule.kind
    if kind == RouteRule.Kind.DEFAULT:
        return True
    if kind == RouteRule.Kind.DID:
        return bool(did) and (number_normalise(rule.value) or rule.value) == did
    if facts.customer_id is None:
        return False
    if kind == RouteRule.Kind.LOYALTY_TIER:
        return (
            rule.tier is not None
            and facts.tier_threshold is not None
            and facts.tier_threshold >= rule.tier.threshold
        )
    if kind == RouteRule.Kind.OPEN_TOPIC:
        return rule.value in topics
    if kind == RouteRule.Kind.LANGUAGE:
        return bool(facts.language) and facts.language.split("-")[0] == rule.value.lower()
    return False


def route_queue(*, caller: str, did: str) -> str:
    """`route_queue_uncached`, cached for `TELEPHONY_ROUTE_CACHE_SECONDS` per caller and number
    and dropped at once when a rule changes (the key carries the rules' version)."""
    e164 = number_normalise(caller)
    did_key = number_normalise(did) or "".join(ch for ch in (did or "") if ch.isalnum())[:32]
    version = cache.get(ROUTE_RULES_VERSION_KEY)
    if version is None:
        cache.add(ROUTE_RULES_VERSION_KEY, 1, None)
        version = cache.get(ROUTE_RULES_VERSION_KEY, 1)
    key = f"telephony:route:{version}:{e164 or '-'}:{did_key or '-'}"
    queue = cache.get(key)
    if queue is None:
        queue = route_queue_uncached(caller=e164, did=did_key)
        cache.set(key, queue, settings.TELEPHONY_ROUTE_CACHE_SECONDS)
    return queue


def pbx_active_ids() -> list[int]:
    """The PBXs to listen to, in a stable order."""
    return list(Pbx.objects.filter(is_active=True).order_by("pk").values_list("pk", flat=True))
