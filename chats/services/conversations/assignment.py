"""Who has the conversation and how soon its queue serves it: assign, take, unassign,
transfer (to a team, an operator or by topic), and the priority."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.access import Capability, has_capability, profile_of
from accounts.models import Team
from chats.events import publish_conversation_changed
from chats.models import Conversation, ConversationEvent, TopicRule
from chats.services import distribution
from chats.services.common import ActionRefused, _locked, _record, _refuse_if_deleted, _settle
from chats.services.distribution import FIELDS as DISTRIBUTION_FIELDS
from smartdesk.core.updates import model_update

Status = Conversation.Status
EventType = ConversationEvent.Type


def _check_operator(operator: Any) -> None:
    """The target of an assignment or transfer: active, with a profile, and a role that works
    on conversations (the write gate's capability; a looking-only role is given nothing)."""
    if not operator.is_active or profile_of(operator) is None:
        raise ValidationError(_("%(name)s cannot take conversations.") % {"name": operator})
    if not has_capability(operator, Capability.HANDLE_CONVERSATIONS):
        raise ValidationError(
            _("%(name)s's role does not work on conversations; choose someone else.")
            % {"name": operator}
        )


@transaction.atomic
def conversation_assign(*, conversation: Conversation, operator: Any, actor: Any) -> Conversation:
    """Give the conversation to `operator`, within their capacity (beyond it only for roles
    allowed to, recorded in the event). Idempotent; emits `conversation.changed` on commit."""
    _check_operator(operator)
    locked = _locked(conversation)
    _refuse_if_deleted(locked)
    if locked.status == Status.CLOSED:
        raise ActionRefused(_("Reopen the conversation before assigning it."))
    if locked.assignee_id == operator.pk:
        return locked
    before = distribution.snapshot(locked)
    previous = locked.assignee_id
    locked.assignee = operator
    over = _settle(locked, before, actor)
    locked.save(update_fields=[*DISTRIBUTION_FIELDS, "updated_at"])
    extra = {"over_capacity": True} if over else {}
    _record(locked, EventType.ASSIGNED, actor, from_user=previous, to_user=operator.pk, **extra)
    publish_conversation_changed(locked, change=EventType.ASSIGNED, previous_assignee_id=previous)
    return locked


@transaction.atomic
def conversation_take(*, conversation: Conversation, actor: Any) -> Conversation:
    """Assign to me, if nobody else has it: two operators clicking "take" on the same queued
    conversation get one success and one refusal, never a silent swap."""
    locked = _locked(conversation)
    _refuse_if_deleted(locked)
    if locked.status == Status.CLOSED:
        raise ActionRefused(_("Reopen the conversation before assigning it."))
    if locked.assignee_id not in (None, actor.pk):
        raise ActionRefused(
            _("%(name)s has already taken this conversation.") % {"name": locked.assignee}
        )
    return conversation_assign(conversation=locked, operator=actor, actor=actor)


@transaction.atomic
def conversation_unassign(*, conversation: Conversation, actor: Any) -> Conversation:
    """Put the conversation back in its team's queue."""
    locked = _locked(conversation)
    _refuse_if_deleted(locked)
    if locked.assignee_id is None:
        return locked
    before = distribution.snapshot(locked)
    previous = locked.assignee_id
    locked.assignee = None
    _settle(locked, before, actor, exclude_user_id=previous)
    locked.save(update_fields=[*DISTRIBUTION_FIELDS, "updated_at"])
    _record(locked, EventType.UNASSIGNED, actor, from_user=previous)
    publish_conversation_changed(locked, change=EventType.UNASSIGNED, previous_assignee_id=previous)
    return locked


@transaction.atomic
def conversation_transfer(
    *,
    conversation: Conversation,
    actor: Any,
    reason: str,
    team: Team | None = None,
    operator: Any = None,
    topic: str | None = None,
) -> Conversation:
    """Move the conversation to another team (its queue) and/or operator, with a reason."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("Say why the conversation is transferred."))
    topic = topic.strip()[:100] if topic is not None else None
    rule = TopicRule.objects.filter(topic__iexact=topic).first() if topic else None
    if team is None and operator is None and rule is None:
        raise ValidationError(_("Choose a team or an operator to transfer to."))
    if operator is not None:
        _check_operator(operator)
    locked = _locked(conversation)
    _refuse_if_deleted(locked)
    if locked.status == Status.CLOSED:
        raise ActionRefused(_("Reopen the conversation before transferring it."))
    before = distribution.snapshot(locked)
    previous_team, previous_assignee = locked.team_id, locked.assignee_id
    if topic is not None:
        # The topic decides the skill needed, and the team unless one was chosen.
        locked.topic = topic
        locked.required_skill_id = rule.required_skill_id if rule is not None else None
        if team is None and rule is not None and rule.team_id is not None:
            team = rule.team
    if team is not None:
        locked.team = team
    locked.assignee = operator  # a team transfer without an operator goes to the queue
    over = _settle(locked, before, actor, exclude_user_id=previous_assignee)
    locked.save(
        update_fields=["team", "topic", "required_skill", *DISTRIBUTION_FIELDS, "updated_at"]
    )
    _record(
        locked,
        EventType.TRANSFERRED,
        actor,
        from_team=previous_team,
        to_team=locked.team_id,
        from_user=previous_assignee,
        to_user=locked.assignee_id,
        reason=reason[:500],
        **({"over_capacity": True} if over else {}),
    )
    publish_conversation_changed(
        locked,
        change=EventType.TRANSFERRED,
        previous_team_id=previous_team,
        previous_assignee_id=previous_assignee,
    )
    return locked


@transaction.atomic
def conversation_set_priority(
    *, conversation: Conversation, priority: int, actor: Any
) -> Conversation:
    if priority not in Conversation.Priority.values:
        raise ValidationError(_("Unknown priority."))
    locked = _locked(conversation)
    _refuse_if_deleted(locked)
    if locked.priority == priority:
        return locked
    previous = locked.priority
    model_update(locked, priority=priority)
    _record(locked, EventType.PRIORITY, actor, before=previous, after=priority)
    publish_conversation_changed(locked, change=EventType.PRIORITY)
    return locked
