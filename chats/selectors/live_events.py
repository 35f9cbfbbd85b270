"""Live events: the groups a user hears, and the replay of missed events through the gate as
it stands now."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from django.db.models import Max, Q, Subquery

from accounts.access import scope_of
from accounts.models import Role
from chats.models import Conversation
from chats.selectors.gate import Facts, may_see, team_ids_of, visible_conversations
from smartdesk.core.models import LiveEvent
from smartdesk.core.realtime import ADMINS_GROUP, team_group, user_group


def live_groups_for(user: Any) -> set[str]:
    """The channel-layer groups whose events this user may hear, by their scope."""
    scope = scope_of(user)
    if scope is None:
        return set()
    groups = {user_group(user.pk)}
    if scope == Role.Scope.ALL:
        groups.add(ADMINS_GROUP)
    elif scope == Role.Scope.TEAMS:
        groups |= {team_group(pk) for pk in team_ids_of(user)}
    return groups


def live_events_since(
    user: Any,
    *,
    after: int,
    until: int | None = None,
    exclude: set[int] | frozenset[int] = frozenset(),
    limit: int = 500,
) -> list[dict[str, Any]]:
    """Events with a seq above `after` (and at most `until`) that the user may see now, in
    commit order, as sent, leaving out the seqs in `exclude`.

    Conversation events are filtered through the gate as it stands now, so a reconnect never
    replays what the user may no longer see.
    """
    rows = LiveEvent.objects.filter(_replayable(user), seq__gt=after)
    if until is not None:
        rows = rows.filter(seq__lte=until)
    # The excluded seqs are those above `after` the client already holds: a short list.
    rows = (
        rows.exclude(seq__in=sorted(exclude)).order_by("seq").values_list("seq", "payload")[:limit]
    )
    return [{**payload, "id": seq} for seq, payload in rows]


# What is sent to the admins' group only: the floor's presence changes and the contact-spike
# alerts (analytics).
ADMIN_EVENT_TYPES = ("presence.changed", "anomaly.alert")


def _replayable(user: Any) -> Q:
    """The live events a user may be replayed: their own, those of conversations they see
    now, and for scope `all` what is sent to the admins' group (`ADMIN_EVENT_TYPES`).
    chats/live_window.py applies the same rule in memory (tests hold the two together)."""
    visible = Q(user_id=user.pk) | Q(
        conversation_id__in=visible_conversations(user, include_deleted=True).values("pk")
    )
    if scope_of(user) == Role.Scope.ALL:
        visible |= Q(type__in=ADMIN_EVENT_TYPES)
    return visible


def live_event_ids(user: Any, *, after: int, until: int, limit: int | None = None) -> list[int]:
    """The seqs in (after, until] of events the user may see now, in commit order (the first
    `limit`): what a socket compares with what it forwarded to find the ones it missed."""
    visible = _replayable(user)
    rows = (
        LiveEvent.objects.filter(visible, seq__gt=after, seq__lte=until)
        .order_by("seq")
        .values_list("seq", flat=True)
    )
    return list(rows if limit is None else rows[:limit])


# What never changes of an event: (seq, type, user id, conversation id).
EventHead = tuple[int, str, int | None, int | None]


def live_event_heads(*, after: int, until: int, limit: int) -> list[EventHead]:
    """The heads of the first `limit` events in (after, until], in commit order, for
    chats/live_window.py: what `live_event_ids` reads, without the gate (`may_replay` applies
    it)."""
    rows = (
        LiveEvent.objects.filter(seq__gt=after, seq__lte=until)
        .order_by("seq")
        .values_list("seq", "type", "user_id", "conversation_id")
    )
    return list(rows[:limit])


def live_event_conversation_facts(*, conversation_ids: Collection[int]) -> dict[int, Facts]:
    """What the gate decides on (`Facts`) for these conversations, as they stand now; a
    conversation gone is missing."""
    rows = Conversation.objects.filter(pk__in=list(conversation_ids)).values_list(
        "pk", "team_id", "assignee_id", "deleted_at"
    )
    return {
        pk: Facts(team_id=team, assignee_id=assignee, deleted=deleted is not None)
        for pk, team, assignee, deleted in rows
    }


def may_replay(user: Any, *, head: EventHead, facts: Mapping[int, Facts]) -> bool:
    """`_replayable` for one event, on its conversation's facts already read (`may_see`):
    the user's own events, those of conversations they see, and for scope `all` the admins'
    events. Tests hold it to `live_event_ids`."""
    _seq, kind, user_id, conversation_id = head
    if user_id is not None and user_id == user.pk:
        return True
    if conversation_id is not None:
        found = facts.get(conversation_id)
        if found is not None and may_see(user, found):
            return True
    return kind in ADMIN_EVENT_TYPES and scope_of(user) == Role.Scope.ALL


def live_events_by_seq(seqs: list[int]) -> list[dict[str, Any]]:
    """The events with these seqs, as sent, in commit order. Callers pass seqs the gate gave
    them (`live_event_ids`)."""
    rows = LiveEvent.objects.filter(seq__in=seqs).order_by("seq").values_list("seq", "payload")
    return [{**payload, "id": seq} for seq, payload in rows]


def live_event_latest() -> int:
    """The newest committed event id (0 before any): a page rendered now shows everything
    up to it, so its socket resumes after it."""
    return LiveEvent.objects.aggregate(latest=Max("seq"))["latest"] or 0


def live_event_watermark() -> Subquery:
    """The newest committed event id, as an expression for the same statement as other reads:
    seq order is commit order, so a snapshot that sees seq N sees every event up to N, and
    what the statement reads is at least as new as each of them (chats/live_render.py serves
    those events with one render)."""
    return Subquery(LiveEvent.objects.filter(seq__isnull=False).order_by("-seq").values("seq")[:1])


def live_event_horizon() -> int | None:
    """The oldest seq still kept; a client behind it must reload instead of replaying."""
    return (
        LiveEvent.objects.filter(seq__isnull=False)
        .order_by("seq")
        .values_list("seq", flat=True)
        .first()
    )
