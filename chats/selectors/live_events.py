"""Live events: the groups a user hears, and the replay of missed events through the gate as
it stands now."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from django.db.models import Max, Q, Subquery

from accounts.access import scope_of
from accounts.models import Role, Team
from chats.models import Conversation
from chats.selectors.gate import visible_conversations
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
        groups |= {
            team_group(pk)
            for pk in Team.objects.filter(members__user_id=user.pk).values_list("pk", flat=True)
        }
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


def live_event_heads(*, after: int, limit: int) -> list[tuple[int, str, int | None, int | None]]:
    """(seq, type, user id, conversation id) of the first `limit` events after `after`, in
    commit order: what never changes of an event, for chats/live_window.py. Seq order is
    commit order, so the rows read are every event up to the last one."""
    rows = (
        LiveEvent.objects.filter(seq__gt=after)
        .order_by("seq")
        .values_list("seq", "type", "user_id", "conversation_id")
    )
    return list(rows[:limit])


def live_event_conversation_facts(
    conversation_ids: Collection[int],
) -> dict[int, tuple[int | None, int | None, bool]]:
    """(team id, assignee id, deleted) of these conversations as they stand now: what the gate
    decides on (`chats.live_render.may_see`). A conversation gone is missing."""
    rows = Conversation.objects.filter(pk__in=list(conversation_ids)).values_list(
        "pk", "team_id", "assignee_id", "deleted_at"
    )
    return {pk: (team, assignee, deleted is not None) for pk, team, assignee, deleted in rows}


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
