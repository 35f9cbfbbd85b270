"""The partitioning migrations (chats 0009, smartdesk 0003) on a populated database: the
schema is migrated back to the state before them, filled in SQL (a year of messages with
replies, revisions, delivery attempts and channel ids; a month of live events), then migrated
forward and back again. Every row survives each way: counts and an md5 over every row's text,
in id order, are the same before and after."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from chats.models import Message
from smartdesk.core import partitions
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("chats", "0008_delivery_outbox"), ("smartdesk", "0002_liveevent_commit_seq")]
TABLES = ("chats_message", "smartdesk_liveevent", "chats_messagerevision", "chats_deliveryattempt")

FILL = """
INSERT INTO chats_message (conversation_id, inbox_id, kind, author_id, body, attachments,
    external_id, delivery_status, delivery_error, entities, media_group_id, edited_at,
    created_at, deleted_at, deleted_by_id, reply_to_id, delivery_claimed_until, delivery_tries)
SELECT %(conversation)s, %(inbox)s, CASE WHEN g %% 2 = 0 THEN 'inbound' ELSE 'outbound' END,
       NULL, 'message ' || g || ' ' || md5(g::text), '[]'::jsonb,
       CASE WHEN g %% 3 = 0 THEN 'ext-' || g END,
       CASE WHEN g %% 2 = 1 THEN 'sent' ELSE '' END, '', '[]'::jsonb, NULL, NULL,
       now() - make_interval(hours => 3 * g), NULL, NULL, NULL, NULL, 0
  FROM generate_series(1, 3000) g;
UPDATE chats_message m SET reply_to_id = m.id - 1
 WHERE m.id %% 7 = 0 AND m.inbox_id = %(inbox)s
   AND EXISTS (SELECT 1 FROM chats_message p WHERE p.id = m.id - 1);
INSERT INTO chats_messagerevision (message_id, body, entities, replaced_at)
SELECT id, 'old ' || body, '[]'::jsonb, created_at + interval '1 minute'
  FROM chats_message WHERE id %% 11 = 0;
INSERT INTO chats_deliveryattempt (message_id, target, at, status_code, ok, error, duration_ms,
    part, method, external_id)
SELECT id, 'telegram', created_at, 200, true, '', 12, NULL, 'sendMessage', 'tg-' || id
  FROM chats_message WHERE kind = 'outbound';
INSERT INTO smartdesk_liveevent (seq, type, payload, user_id, conversation_id, created_at)
SELECT 100000 + g, 'message.created', jsonb_build_object('n', g), NULL, %(conversation)s,
       now() - make_interval(mins => 15 * g)
  FROM generate_series(1, 2000) g;
"""


def _migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def _leaves():
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def _fingerprints() -> dict[str, tuple[int, str]]:
    found = {}
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) "  # noqa: S608
                f"FROM {table} t"
            )
            found[table] = cursor.fetchone()
    return found


def _scalar(query: str, params=()):
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchone()[0]


def _partitioned(table: str) -> bool:
    with connection.cursor() as cursor:
        return partitions.is_partitioned(cursor, table)


@pytest.fixture
def populated_before(support_inbox):
    """The database at the migration before ours, holding a year of history."""
    conversation = factories.make_conversation(inbox=support_inbox)
    try:
        _migrate(BEFORE)
        assert not _partitioned("chats_message")
        assert not _partitioned("smartdesk_liveevent")
        with connection.cursor() as cursor:
            # One statement per call: parameters are bound on the server, where a statement
            # with parameters stands alone.
            for statement in filter(str.strip, FILL.split(";\n")):
                cursor.execute(
                    statement, {"conversation": conversation.pk, "inbox": support_inbox.pk}
                )
        yield support_inbox
    finally:
        # Whatever happened, here or in the test, the next test finds the schema migrated.
        _migrate(_leaves())


def test_forward_and_back_keep_every_row(populated_before) -> None:
    inbox = populated_before
    before = _fingerprints()
    assert before["chats_message"][0] == 3001
    assert before["chats_messagerevision"][0] > 200
    assert before["chats_deliveryattempt"][0] == 1500
    last_id = _scalar("SELECT max(id) FROM chats_message")

    _migrate(_leaves())

    assert _partitioned("chats_message")
    assert _partitioned("smartdesk_liveevent")
    assert _fingerprints() == before
    # Spread over the months (a year and more), nothing left in the catch-all partition.
    used = _scalar(
        "SELECT count(DISTINCT tableoid) FROM chats_message",
    )
    assert used >= 12
    assert _scalar("SELECT count(*) FROM chats_message_default") == 0
    assert _scalar("SELECT count(*) FROM smartdesk_liveevent_default") == 0
    assert _scalar("SELECT count(DISTINCT tableoid) FROM smartdesk_liveevent") >= 20
    # The idempotency key moved to its side table, whole.
    assert _scalar("SELECT count(*) FROM chats_message_external_key") == 1000

    # New rows go on from the old sequence, and a channel id is still unique per inbox.
    conversation = Message.objects.get(pk=last_id).conversation
    fresh = factories.receive(conversation, "after the migration", external_id="ext-new")
    assert fresh.pk > last_id
    again = factories.receive(conversation, "a redelivery", external_id="ext-new")
    assert again.pk == fresh.pk
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(
            conversation=conversation, inbox=inbox, kind="inbound", body="x", external_id="ext-3"
        )
    # A soft-deleted or edited message is updated in place, in its partition.
    Message.objects.filter(pk=fresh.pk).update(body="edited")
    assert Message.objects.get(pk=fresh.pk).body == "edited"

    # --- and back: one plain table again, with every row ---
    forward = _fingerprints()

    _migrate(BEFORE)

    assert not _partitioned("chats_message")
    assert not _partitioned("smartdesk_liveevent")
    assert _fingerprints() == forward
    assert _scalar("SELECT to_regclass('chats_message_external_key')") is None
    # The unique index and the foreign keys are back.
    conversation_id = _scalar("SELECT conversation_id FROM chats_message LIMIT 1")
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO chats_message (conversation_id, inbox_id, kind, body, attachments,"
            " external_id, delivery_status, delivery_error, entities, created_at,"
            " delivery_tries) VALUES (%s, %s, 'inbound', '', '[]', 'ext-3', '', '', '[]',"
            " now(), 0)",
            [conversation_id, inbox.pk],
        )
    assert (
        _scalar(
            "SELECT count(*) FROM pg_constraint WHERE contype = 'f' "
            "AND confrelid = 'chats_message'::regclass"
        )
        == 3
    )
