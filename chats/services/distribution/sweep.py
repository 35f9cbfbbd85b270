"""The periodic safety net: presence expiry, conversations taken back from operators who are
away, loads recomputed from the conversations, and a pass over every queue."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Sum, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from accounts.models import OperatorProfile, Team
from chats.events import publish_conversation_changed
from chats.models import Conversation, ConversationEvent
from chats.services.distribution.load import FIELDS, settle, snapshot
from chats.services.distribution.placement import distribute_queue
from smartdesk.core.realtime import ADMINS_GROUP, publish, user_group

log = logging.getLogger(__name__)

Status = Conversation.Status
Presence = OperatorProfile.Presence
EventType = ConversationEvent.Type


def reassign_unanswered(*, now: datetime | None = None) -> list[int]:
    """Conversations whose operator is away (or offline) and that have waited for an answer
    longer than their team allows go back to the queue, with an audit event and a notice to
    the operator who had them (whoever gets them next is told as for any assignment)."""
    now = now or timezone.now()
    moved: list[int] = []
    for team in Team.objects.filter(reassign_after_minutes__isnull=False):
        cutoff = now - timedelta(minutes=team.reassign_after_minutes or 0)
        candidates = list(
            Conversation.objects.filter(
                team=team,
                status=Status.OPEN,
                deleted_at__isnull=True,
                assignee__isnull=False,
                assignee__profile__presence__in=[Presence.AWAY, Presence.OFFLINE],
                waiting_since__lt=cutoff,
                assigned_at__lt=cutoff,
            ).values_list("pk", flat=True)[:1000]
        )
        for pk in candidates:
            if _reassign_one(pk, cutoff=cutoff, now=now):
                moved.append(pk)
    return moved


def _reassign_one(pk: int, *, cutoff: datetime, now: datetime) -> bool:
    with transaction.atomic():
        conversation = (
            Conversation.objects.select_for_update(of=("self",), skip_locked=True)
            .filter(
                pk=pk,
                status=Status.OPEN,
                deleted_at__isnull=True,
                assignee__profile__presence__in=[Presence.AWAY, Presence.OFFLINE],
                waiting_since__lt=cutoff,
                assigned_at__lt=cutoff,
            )
            .first()
        )
        if conversation is None:
            return False
        before = snapshot(conversation)
        conversation.assignee = None
        settle(conversation, before, now=now)
        conversation.save(update_fields=[*FIELDS, "updated_at"])
        ConversationEvent.objects.create(
            conversation=conversation,
            type=EventType.REASSIGNED,
            data={"from_user": before.assignee_id, "reason": "away"},
        )
        publish(
            {
                "type": "conversation.reassigned",
                "conversation_id": conversation.pk,
                "reason": "away",
            },
            groups=[user_group(before.assignee_id), ADMINS_GROUP],
            user_id=before.assignee_id,
        )
        publish_conversation_changed(
            conversation, change=EventType.REASSIGNED, previous_assignee_id=before.assignee_id
        )
    return True


def loads_reconcile() -> int:
    """Recompute every operator's load from their conversations; returns how many were off.

    The services keep loads exact; this guards against a bug or a hand edit in the database.
    """
    truth = dict(
        Conversation.objects.filter(
            assignee__isnull=False, status=Status.OPEN, deleted_at__isnull=True
        )
        .values("assignee")
        .annotate(total=Sum("load_weight"))
        .values_list("assignee", "total")
    )
    fixed = 0
    for profile in OperatorProfile.objects.only("pk", "user_id", "load", "busy_load", "capacity"):
        actual = truth.get(profile.user_id, 0) + profile.busy_load
        if profile.load != actual:
            with transaction.atomic():
                locked = OperatorProfile.objects.select_for_update().get(pk=profile.pk)
                recount = (
                    Conversation.objects.filter(
                        assignee_id=profile.user_id, status=Status.OPEN, deleted_at__isnull=True
                    ).aggregate(total=Sum("load_weight"))["total"]
                    or 0
                ) + locked.busy_load
                if locked.load != recount:
                    log.warning(
                        "operator %s load %s, actual %s: corrected",
                        profile.user_id,
                        locked.load,
                        recount,
                    )
                    OperatorProfile.objects.filter(pk=profile.pk).update(
                        load=recount, overload=Greatest(Value(0), recount - F("capacity"))
                    )
                    fixed += 1
    return fixed


def distribution_sweep(*, now: datetime | None = None) -> int:
    """The periodic safety net; returns how many conversations it placed."""
    from accounts.services import presence_expire

    now = now or timezone.now()
    presence_expire(now=now)
    reassign_unanswered(now=now)
    loads_reconcile()
    return distribute_queue(now=now)
