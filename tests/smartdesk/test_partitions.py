"""Partition upkeep: partitions are created ahead by the periodic job (rows the catch-all
partition took for a new range move into it), and live-event retention drops whole days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from smartdesk.celery import app
from smartdesk.core import partitions
from smartdesk.core.models import LiveEvent
from smartdesk.core.services import live_events_prune
from smartdesk.core.tasks import maintain_partitions

pytestmark = pytest.mark.django_db


def _names(table: str) -> list[str]:
    with connection.cursor() as cursor:
        return [name for name, _bound in partitions.partitions(cursor, table)]


def _count(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - a test's own names
        return cursor.fetchone()[0]


def test_the_migrated_tables_have_partitions_from_now_on() -> None:
    today = datetime.now(UTC).date()
    messages = _names("chats_message")
    assert partitions.partition_name(partitions.MESSAGES, today.replace(day=1)) in messages
    assert messages[-1] == "chats_message_default"
    events = _names("smartdesk_liveevent")
    for day in range(partitions.LIVE_EVENTS.ahead + 1):
        start = today + timedelta(days=day)
        assert partitions.partition_name(partitions.LIVE_EVENTS, start) in events


def test_partitions_are_created_ahead_and_take_over_the_defaults_rows(support_inbox) -> None:
    from django.db import IntegrityError, transaction

    from chats.models import Message
    from tests import factories

    later = datetime.now(UTC).replace(day=15) + timedelta(days=800)  # past every partition
    conversation = factories.make_conversation(inbox=support_inbox)
    message = conversation.messages.get()
    keyed = factories.receive(conversation, "from the channel", external_id="tg-moved")
    Message.objects.filter(pk__in=[message.pk, keyed.pk]).update(created_at=later)
    assert _count("chats_message_default") == 2

    created = maintain_partitions.apply(kwargs={}).get()["chats_message"]
    assert created == []  # today's partitions were all there already
    created = partitions.ensure_partitions(partitions.MESSAGES, now=later)

    month = partitions.partition_name(partitions.MESSAGES, later.date().replace(day=1))
    assert created[0] == month
    assert len(created) == partitions.MESSAGES.ahead + 1
    assert _count("chats_message_default") == 0
    assert _count(month) == 2
    assert Message.objects.get(pk=message.pk).created_at == later
    assert partitions.ensure_partitions(partitions.MESSAGES, now=later) == []  # idempotent
    # The moved row's channel id is still taken: the same delivery again is refused.
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(
            conversation=conversation, inbox=support_inbox, kind="inbound", external_id="tg-moved"
        )


def test_retention_drops_whole_days_and_deletes_the_rest() -> None:
    now = timezone.now()
    ages = {"old": timedelta(days=9), "edge": timedelta(hours=30), "fresh": timedelta(hours=1)}
    for name, age in ages.items():
        event = LiveEvent.objects.create(type=name, payload={})
        LiveEvent.objects.filter(pk=event.pk).update(created_at=now - age)
    # The days before the migration ran have no partition yet: the maintainer makes them.
    partitions.ensure_partitions(partitions.LIVE_EVENTS, now=now - timedelta(days=10))
    old_day = partitions.partition_name(partitions.LIVE_EVENTS, (now - ages["old"]).date())
    assert old_day in _names("smartdesk_liveevent")
    assert _count(old_day) == 1

    live_events_prune()

    assert set(LiveEvent.objects.values_list("type", flat=True)) == {"fresh"}
    remaining = _names("smartdesk_liveevent")
    assert old_day not in remaining
    cutoff = now - timedelta(hours=24)
    for name in remaining[:-1]:  # every day partition left ends after the cutoff
        start = datetime.strptime(name.rsplit("_p", 1)[1], "%Y%m%d").replace(tzinfo=UTC)
        assert start + timedelta(days=1) > cutoff
    assert partitions.partition_name(partitions.LIVE_EVENTS, now.astimezone(UTC).date()) in (
        remaining
    )


def test_the_beat_runs_the_maintainer() -> None:
    entries = [entry["task"] for entry in app.conf.beat_schedule.values()]
    assert "smartdesk.tasks.maintain_partitions" in entries
    assert "smartdesk.tasks.maintain_partitions" in app.tasks


def test_the_channel_id_stays_unique_per_inbox_and_follows_the_rows(support_inbox) -> None:
    from django.db import IntegrityError, transaction

    from chats.models import Message
    from tests import factories

    conversation = factories.make_conversation(inbox=support_inbox)
    first = factories.receive(conversation, "hello", external_id="tg-1")
    assert factories.receive(conversation, "again", external_id="tg-1").pk == first.pk
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(
            conversation=conversation, inbox=support_inbox, kind="inbound", external_id="tg-1"
        )
    other_inbox = factories.make_inbox()
    Message.objects.create(  # another inbox may use the same channel id
        conversation=conversation, inbox=other_inbox, kind="inbound", external_id="tg-1"
    )
    Message.objects.filter(pk=first.pk).delete()  # a deleted message frees its key
    again = Message.objects.create(
        conversation=conversation, inbox=support_inbox, kind="inbound", external_id="tg-1"
    )
    Message.objects.filter(pk=again.pk).update(external_id="tg-2")  # an edit moves it
    Message.objects.create(
        conversation=conversation, inbox=support_inbox, kind="inbound", external_id="tg-1"
    )
    assert _count("chats_message_external_key") == 3
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no deferred checks pending
        cursor.execute("TRUNCATE chats_message")  # as the suite's flush does
    assert _count("chats_message_external_key") == 0


def test_maintenance_gives_up_on_a_held_lock_instead_of_stalling_the_table() -> None:
    """A long read holds the default partition: ATTACH (it scans the default under an
    exclusive lock) must give up after LOCK_TIMEOUT and leave it to the next run."""
    import threading

    import psycopg

    later = datetime.now(UTC).replace(day=15) + timedelta(days=900)
    settings = connection.settings_dict
    holder = psycopg.connect(
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
        user=settings["USER"],
        password=settings["PASSWORD"] or None,
        dbname=settings["NAME"],
    )
    released = threading.Event()

    def release() -> None:  # only a safety net so that a regression fails, not hangs
        released.set()
        holder.rollback()

    safety = threading.Timer(30, release)
    try:
        holder.execute("LOCK TABLE chats_message_default IN ACCESS SHARE MODE")
        safety.start()
        assert maintain_partitions.apply(kwargs={}).get()["chats_message"] == []
        assert partitions.ensure_partitions(partitions.MESSAGES, now=later) == []
        assert not released.is_set()  # it returned while the lock was still held
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")  # the test's transaction is still usable
    finally:
        safety.cancel()
        holder.close()
    month = partitions.partition_name(partitions.MESSAGES, later.date().replace(day=1))
    assert month not in _names("chats_message")
    # The lock gone, the next run creates it.
    assert month in partitions.ensure_partitions(partitions.MESSAGES, now=later)


def test_the_conversion_keeps_the_tables_grants() -> None:
    """A BI role granted SELECT on the table still has it after the rebuild (both ways)."""
    role = f"smartdesk_bi_{connection.settings_dict['NAME']}"[:60]
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE ROLE "{role}" NOLOGIN')  # transactional: gone with the test
        cursor.execute(f'GRANT SELECT ON smartdesk_liveevent TO "{role}"')
        cursor.execute("GRANT REFERENCES ON smartdesk_liveevent TO PUBLIC")

    def granted() -> tuple[bool, bool, bool]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT has_table_privilege(%s, 'smartdesk_liveevent', 'SELECT'), "
                "has_table_privilege(%s, 'smartdesk_liveevent', 'INSERT'), "
                "has_table_privilege('public', 'smartdesk_liveevent', 'REFERENCES')",
                [role, role],
            )
            return cursor.fetchone()

    with connection.schema_editor() as editor:
        partitions.to_plain(editor, partitions.LIVE_EVENTS)
    assert "smartdesk_liveevent_default" not in _names("smartdesk_liveevent")
    assert granted() == (True, False, True)
    with connection.schema_editor() as editor:
        partitions.to_partitioned(editor, partitions.LIVE_EVENTS)
    assert "smartdesk_liveevent_default" in _names("smartdesk_liveevent")
    assert granted() == (True, False, True)
    with connection.cursor() as cursor:
        cursor.execute(f'REVOKE ALL ON smartdesk_liveevent FROM "{role}"')
        cursor.execute("REVOKE REFERENCES ON smartdesk_liveevent FROM PUBLIC")
