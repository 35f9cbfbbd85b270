"""The live-event log numbers events in commit order, whatever order they were written in."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from smartdesk.core.models import LiveEvent
from smartdesk.core.realtime import publish

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_event_written_first_but_committed_last_gets_the_later_number() -> None:
    first_written = threading.Event()
    second_committed = threading.Event()
    errors: list[BaseException] = []

    def slow_writer() -> None:
        try:
            with transaction.atomic():
                publish({"type": "slow"}, groups=[])
                first_written.set()
                assert second_committed.wait(10)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    def fast_writer() -> None:
        try:
            assert first_written.wait(10)
            with transaction.atomic():
                publish({"type": "fast"}, groups=[])
            second_committed.set()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=slow_writer), threading.Thread(target=fast_writer)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)

    assert not errors
    rows = {e.type: e for e in LiveEvent.objects.all()}
    assert rows["slow"].pk < rows["fast"].pk  # inserted first...
    assert rows["fast"].seq < rows["slow"].seq  # ...numbered by commit


def test_a_rolled_back_event_leaves_no_row_and_no_number_behind() -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        publish({"type": "ghost"}, groups=[])
        raise RuntimeError

    publish({"type": "kept"}, groups=[])  # autocommit: numbered at once
    assert list(LiveEvent.objects.values_list("type", flat=True)) == ["kept"]
    assert LiveEvent.objects.get().seq is not None


def test_a_commit_reads_the_numbers_of_all_its_events_in_one_query() -> None:
    from asgiref.sync import async_to_sync
    from channels.db import database_sync_to_async
    from channels.layers import get_channel_layer
    from django.test.utils import CaptureQueriesContext

    layer = get_channel_layer()

    def write() -> list[str]:
        with CaptureQueriesContext(connection) as queries, transaction.atomic():
            for n in range(3):
                publish({"type": "numbered", "n": n}, groups=["batch-test"])
            try:
                with transaction.atomic():
                    publish({"type": "rolled-back"}, groups=["batch-test"])
                    raise RuntimeError("roll the savepoint back")
            except RuntimeError:
                pass
        return [q["sql"] for q in queries.captured_queries]

    async def scenario() -> tuple[list[str], list[dict]]:
        channel = await layer.new_channel()
        await layer.group_add("batch-test", channel)
        sql = await database_sync_to_async(write)()
        events: list[dict] = []
        while len(events) < 3:  # one batch or several: the publisher sends what queued up
            events += (await layer.receive(channel))["events"]
        await layer.group_discard("batch-test", channel)
        return sql, events

    sql, events = async_to_sync(scenario)()

    reads = [q for q in sql if q.startswith("SELECT") and "smartdesk_liveevent" in q]
    assert len(reads) == 1
    assert [event["n"] for event in events] == [0, 1, 2]
    numbers = list(
        LiveEvent.objects.filter(type="numbered").order_by("seq").values_list("seq", flat=True)
    )
    assert [event["id"] for event in events] == numbers
    assert None not in numbers
