"""Concurrent deliveries of one channel id store it once, whoever the sender is said to be."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from chats.models import Conversation, Message
from chats.services.messages import message_receive_from_channel

pytestmark = pytest.mark.django_db(transaction=True)


def test_one_channel_id_raced_by_different_customers_is_stored_once(support_inbox) -> None:
    start = threading.Barrier(8)
    results: list[tuple[int, bool]] = []
    errors: list[BaseException] = []

    def deliver(n: int) -> None:
        try:
            start.wait(10)
            message, created = message_receive_from_channel(
                inbox=support_inbox,
                identity_kind="email",
                identity_value=f"sender{n}@x.test",  # a different customer each time
                body="hello",
                external_id="upd-42",
            )
            results.append((message.pk, created))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert not errors
    assert Message.objects.count() == 1
    assert Conversation.objects.count() == 1  # the losers' conversations rolled back
    assert len({pk for pk, _ in results}) == 1
    assert sum(created for _, created in results) == 1
