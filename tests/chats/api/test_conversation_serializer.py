"""`ConversationSerializer` builds its dict directly (a list page serialises up to 200): it
must give exactly what DRF's generic walk over its declared fields gives, key order included,
for every shape of conversation and viewer."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from rest_framework import serializers

from accounts.models import User
from chats.api.base import conversation_context, gated_rows
from chats.models import Conversation
from chats.serializers import ConversationDetailSerializer, ConversationSerializer
from tests import factories

pytestmark = pytest.mark.django_db


def generic_representation(serializer: serializers.Serializer, instance: Any) -> dict[str, Any]:
    """DRF's own walk over the serializer's fields."""
    return serializers.Serializer.to_representation(serializer, instance)


@pytest.fixture
def shapes(support_inbox, operator: User, admin_user: User) -> list[Conversation]:
    """Open and assigned, unassigned without a team, snoozed past year 9999 in UTC+14, closed,
    deleted, a customer without a name."""
    assigned = factories.make_conversation(inbox=support_inbox, assignee=operator)
    queued = factories.make_conversation(inbox=support_inbox, text="Где заказ?")
    snoozed = factories.make_conversation(inbox=support_inbox, text="Позже")
    closed = factories.make_conversation(inbox=support_inbox, text="Спасибо")
    deleted = factories.make_conversation(inbox=support_inbox, text="Спам")
    nameless = factories.make_conversation(
        inbox=support_inbox, customer=factories.make_customer(first_name="")
    )
    Conversation.objects.filter(pk=queued.pk).update(team=None, topic="delivery")
    Conversation.objects.filter(pk=snoozed.pk).update(
        status=Conversation.Status.SNOOZED,
        snoozed_until=datetime(9999, 12, 31, 20, tzinfo=ZoneInfo("UTC")),
        snooze_reason="ждём кухню",
    )
    Conversation.objects.filter(pk=closed.pk).update(
        status=Conversation.Status.CLOSED, closed_at=timezone.now(), priority=2
    )
    Conversation.objects.filter(pk=deleted.pk).update(
        deleted_at=timezone.now() - timedelta(minutes=3), deleted_by=admin_user
    )
    return [assigned, queued, snoozed, closed, deleted, nameless]


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Kiritimati", "America/Sao_Paulo"])
@pytest.mark.parametrize("who", ["operator", "admin_user"])
@pytest.mark.parametrize("serializer_class", [ConversationSerializer, ConversationDetailSerializer])
def test_the_direct_representation_is_the_generic_one(
    shapes, request, who, zone, serializer_class
) -> None:
    user = request.getfixturevalue(who)
    context = conversation_context(user)
    rows = list(
        gated_rows(Conversation.objects.filter(pk__in=[c.pk for c in shapes])).order_by("pk")
    )
    assert len(rows) == len(shapes)

    with timezone.override(ZoneInfo(zone)):
        serializer = serializer_class(context=context)
        for row in rows:
            direct = serializer.to_representation(row)
            generic = generic_representation(serializer_class(context=context), row)
            if not context["can_see_deleted"]:
                generic.pop("deleted_at")
            assert list(direct.items()) == list(generic.items())
    assert ("deleted_at" in direct) is context["can_see_deleted"]


def test_one_serializer_follows_the_zone_of_each_call_and_a_redeclared_field(
    shapes, operator
) -> None:
    class Renamed(ConversationSerializer):
        status = serializers.CharField(source="effective_status", read_only=True)

    context = conversation_context(operator)
    # Snoozed, and due: its stored status and its effective status differ.
    Conversation.objects.filter(pk=shapes[2].pk).update(
        snoozed_until=timezone.now() - timedelta(minutes=1)
    )
    (row,) = gated_rows(Conversation.objects.filter(pk=shapes[2].pk))
    assert (row.status, row.effective_status) == ("snoozed", "open")
    serializer = ConversationSerializer(context=context)
    renamed = Renamed(context=context)
    for zone in ("Pacific/Kiritimati", "America/Sao_Paulo"):
        with timezone.override(ZoneInfo(zone)):
            direct = serializer.to_representation(row)
            generic = generic_representation(ConversationSerializer(context=context), row)
            generic.pop("deleted_at")
            assert direct == generic
            assert renamed.to_representation(row)["status"] == "open"
    assert direct["created_at"].endswith("-03:00")  # the last zone's, not the first
