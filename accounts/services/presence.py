"""Capacity and presence (distribution: docs/distribution.md): the capacity in effect, the
operator's online/away/offline, the socket heartbeat and the sweep, and the load a call adds."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Min, Q, Value
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import access
from accounts.models import OperatorProfile, User
from accounts.services.common import _announce_available
from smartdesk.core.realtime import ADMINS_GROUP, publish, user_group
from smartdesk.core.updates import model_update

# --- capacity and presence (distribution: docs/distribution.md) --------------------------


def capacity_effective(profile: OperatorProfile) -> int:
    """The operator's own capacity, else the smallest default of their teams, else the
    site default."""
    if profile.max_concurrent_conversations is not None:
        return profile.max_concurrent_conversations
    smallest = profile.teams.aggregate(n=Min("default_capacity"))["n"]
    return smallest if smallest is not None else settings.DISTRIBUTION_DEFAULT_CAPACITY


def capacity_refresh(user_ids: Iterable[int]) -> dict[int, int]:
    """Store the capacity in effect for these operators; returns it by user id.

    A capacity lowered below the current load keeps the conversations where they are: the
    excess is recorded as `overload`, and nothing new comes until the load drops.
    """
    result: dict[int, int] = {}
    for profile in OperatorProfile.objects.filter(user_id__in=list(user_ids)):
        capacity = capacity_effective(profile)
        OperatorProfile.objects.filter(pk=profile.pk).update(
            capacity=capacity, overload=Greatest(Value(0), F("load") - capacity)
        )
        result[profile.user_id] = capacity
    return result


def _publish_presence(profile: OperatorProfile) -> None:
    event = {
        "type": "presence.changed",
        "user_id": profile.user_id,
        "presence": profile.presence,
    }
    publish(event, groups=[user_group(profile.user_id), ADMINS_GROUP], user_id=profile.user_id)


@transaction.atomic
def presence_set(*, user: User, presence: str, now: datetime | None = None) -> OperatorProfile:
    """The operator chose online, away or offline."""
    if presence not in OperatorProfile.Presence.values:
        raise ValidationError(_("Unknown presence: %(value)s") % {"value": presence})
    profile = OperatorProfile.objects.select_for_update().filter(user_id=user.pk).first()
    if profile is None:
        raise ValidationError(_("%(name)s has no operator profile.") % {"name": user})
    now = now or timezone.now()
    changed = profile.presence != presence or profile.away_by_timeout
    model_update(profile, presence=presence, away_by_timeout=False, last_seen_at=now)
    access.forget(user)
    if changed:
        _publish_presence(profile)
        if presence == OperatorProfile.Presence.ONLINE:
            _announce_available([user.pk])
    return profile


HEARTBEAT_WRITE_EVERY = timedelta(seconds=15)


def presence_heartbeat(*, user_id: int, now: datetime | None = None) -> bool:
    """The operator's socket is alive. Writes at most every few seconds; an operator the sweep
    made away for silence comes back online. Returns True when that happened."""
    now = now or timezone.now()
    with transaction.atomic():
        back = OperatorProfile.objects.filter(
            user_id=user_id, presence=OperatorProfile.Presence.AWAY, away_by_timeout=True
        ).update(presence=OperatorProfile.Presence.ONLINE, away_by_timeout=False, last_seen_at=now)
        if back:
            profile = OperatorProfile.objects.get(user_id=user_id)
            _publish_presence(profile)
            _announce_available([user_id])
            return True
    OperatorProfile.objects.filter(user_id=user_id).filter(
        _silent_since(now - HEARTBEAT_WRITE_EVERY)
    ).update(last_seen_at=now)
    return False


def presence_expire(*, now: datetime | None = None) -> list[int]:
    """Online operators whose socket has been silent too long become away (by timeout)."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.PRESENCE_AWAY_AFTER_SECONDS)
    with transaction.atomic():
        silent = list(
            OperatorProfile.objects.select_for_update(skip_locked=True)
            .filter(presence=OperatorProfile.Presence.ONLINE)
            .filter(_silent_since(cutoff))
        )
        for profile in silent:
            model_update(profile, presence=OperatorProfile.Presence.AWAY, away_by_timeout=True)
            _publish_presence(profile)
    return [profile.user_id for profile in silent]


def _silent_since(cutoff: datetime) -> Q:
    return Q(last_seen_at__isnull=True) | Q(last_seen_at__lt=cutoff)


@transaction.atomic
def operator_busy_set(*, user_id: int, weight: int) -> None:
    """Set the load an operator carries outside conversations (a call), replacing what
    was set before. A call rings whatever the chat load, so this may go beyond capacity (the
    excess is recorded as overload); lowering it frees room for the queue."""
    weight = max(0, int(weight))
    profile = OperatorProfile.objects.select_for_update().filter(user_id=user_id).first()
    if profile is None or profile.busy_load == weight:
        return
    delta = weight - profile.busy_load
    OperatorProfile.objects.filter(pk=profile.pk).update(
        load=F("load") + delta,
        busy_load=weight,
        overload=Greatest(Value(0), F("load") + delta - F("capacity")),
    )
    if delta < 0:
        _announce_available([user_id])
