"""`model_update` writes exactly the fields it is given, plus the model's `auto_now` ones, and
nothing else: a field changed in memory but not named stays as the database has it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chats.models import Conversation
from smartdesk.core.updates import model_update
from tests import factories

pytestmark = pytest.mark.django_db


def test_it_saves_the_named_fields_and_updated_at_and_nothing_else(support_inbox):
    """A foreign key by its column name (`team_id`) counts as its field (`team`)."""
    conversation = factories.make_conversation(inbox=support_inbox)
    stale = conversation.updated_at - timedelta(days=1)
    Conversation.objects.filter(pk=conversation.pk).update(updated_at=stale)
    conversation.snooze_reason = "in memory only"

    with CaptureQueriesContext(connection) as queries:
        saved = model_update(conversation, topic="billing", team_id=None)

    assert saved == ["topic", "team", "updated_at"]
    assert len(queries) == 1
    row = Conversation.objects.get(pk=conversation.pk)
    assert (row.topic, row.team_id) == ("billing", None)
    assert row.updated_at > stale
    assert row.snooze_reason == ""  # not named, not written
    assert conversation.team_id is None


def test_it_writes_a_named_field_even_when_memory_already_holds_the_value(support_inbox):
    conversation = factories.make_conversation(inbox=support_inbox)
    Conversation.objects.filter(pk=conversation.pk).update(snooze_reason="changed elsewhere")

    model_update(conversation, snooze_reason="")

    assert Conversation.objects.get(pk=conversation.pk).snooze_reason == ""


@pytest.mark.parametrize("fields", [{}, {"no_such_field": 1}, {"id": 5}])
def test_a_field_it_cannot_update_is_refused_before_any_write(support_inbox, fields):
    conversation = factories.make_conversation(inbox=support_inbox)
    with pytest.raises(ValueError), CaptureQueriesContext(connection) as queries:
        model_update(conversation, **fields)
    assert len(queries) == 0
