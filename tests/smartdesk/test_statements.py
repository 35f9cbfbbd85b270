"""`smartdesk.core.statements.Reusable`: a queryset compiled once, run with other values, gives
what the queryset itself would."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from psycopg.sql import Literal

from chats.models import Conversation
from chats.selectors import with_effective_status
from smartdesk.core.statements import Reusable, Reusables, slot_datetime, slot_int
from tests import factories
from tests.compiles import compiled_models

pytestmark = pytest.mark.django_db


def _statement() -> tuple[Reusable[Conversation], int, object]:
    pk, now = slot_int(), slot_datetime()
    qs = with_effective_status(Conversation.objects.select_related("inbox", "customer"), now=now)
    return Reusable(qs.filter(pk=pk)[:1], {"pk": pk, "now": now}), pk, now


def test_a_run_gives_what_the_queryset_gives_for_the_values_put_in(support_inbox) -> None:
    snoozed = factories.make_conversation(inbox=support_inbox, text="Через час, пожалуйста")
    Conversation.objects.filter(pk=snoozed.pk).update(
        status=Conversation.Status.SNOOZED, snoozed_until=timezone.now() + timedelta(hours=1)
    )
    other = factories.make_conversation(inbox=support_inbox, text="Где мой заказ?")
    statement, _, _ = _statement()

    for pk, now in [
        (snoozed.pk, timezone.now()),  # still snoozed
        (snoozed.pk, timezone.now() + timedelta(hours=2)),  # due: reads as open
        (other.pk, timezone.now()),
    ]:
        (row,) = statement.run(pk=pk, now=now)
        (expected,) = with_effective_status(
            Conversation.objects.select_related("inbox", "customer"), now=now
        ).filter(pk=pk)
        assert (row.pk, row.effective_status) == (expected.pk, expected.effective_status)
        assert row.inbox == expected.inbox and row.customer.name == expected.customer.name
        assert "inbox" in row._state.fields_cache  # select_related filled, no query later
    assert [r.effective_status for r in statement.run(pk=snoozed.pk, now=timezone.now())] == [
        Conversation.Status.SNOOZED
    ]
    assert statement.run(pk=-1, now=timezone.now()) == []


def test_it_is_compiled_once(support_inbox, monkeypatch) -> None:
    conversation = factories.make_conversation(inbox=support_inbox, text="Добрый день")
    statement, _, _ = _statement()
    compiled = compiled_models(monkeypatch)
    for _ in range(5):
        (row,) = statement.run(pk=conversation.pk, now=timezone.now())
        assert row.pk == conversation.pk
    assert compiled == []


def test_a_slot_must_be_a_parameter_and_every_slot_is_given() -> None:
    pk = slot_int()
    with pytest.raises(ValueError, match="slot 'pk' is 0 parameters"):
        Reusable(Conversation.objects.filter(pk=5), {"pk": pk})
    statement = Reusable(Conversation.objects.filter(pk=pk), {"pk": pk})
    with pytest.raises(TypeError):
        statement.run()
    with pytest.raises(TypeError):
        statement.run(pk=1, other=2)


def test_a_slot_in_several_places_takes_the_value_in_each(support_inbox) -> None:
    """The same "now" in two predicates (the list's status and its effective status)."""
    first = factories.make_conversation(inbox=support_inbox, text="Первый")
    second = factories.make_conversation(inbox=support_inbox, text="Второй")
    pk = slot_int()
    statement = Reusable(
        Conversation.objects.filter(pk=pk) | Conversation.objects.filter(customer_id=pk),
        {"pk": pk},
    )

    def plain(value: int) -> list[int]:
        qs = Conversation.objects.filter(pk=value) | Conversation.objects.filter(customer_id=value)
        return sorted(qs.values_list("pk", flat=True))

    # Were only the first place filled, the customer's branch would find nothing.
    found = sorted(c.pk for c in statement.run(pk=first.customer_id))
    assert first.pk in found and found == plain(first.customer_id)
    assert [c.pk for c in statement.run(pk=second.pk)] == [second.pk]


def test_the_cache_keeps_the_newest_within_its_size() -> None:
    cache: Reusables[Conversation] = Reusables(size=2)
    built = []

    def build(n: int):
        def make():
            built.append(n)
            pk = slot_int()
            return Reusable(Conversation.objects.filter(pk=pk), {"pk": pk})

        return make

    first = cache.get("a", build(1))
    assert cache.get("a", build(2)) is first
    cache.get("b", build(3))
    cache.get("c", build(4))  # "a" is the oldest: dropped
    cache.get("a", build(5))
    assert built == [1, 3, 4, 5]


def test_a_query_that_can_match_nothing_runs_to_nothing() -> None:
    pk = slot_int()
    assert Reusable(Conversation.objects.none().filter(pk=pk), {"pk": pk}).run(pk=1) == []


def test_a_time_that_is_not_a_slot_is_refused_it_would_go_stale() -> None:
    pk = slot_int()
    with pytest.raises(ValueError, match="would go stale"):
        Reusable(Conversation.objects.filter(pk=pk, created_at__lte=timezone.now()), {"pk": pk})


def test_only_postgresql_is_supported(monkeypatch) -> None:
    from django.db import connection

    pk = slot_int()
    monkeypatch.setattr(connection, "vendor", "sqlite")
    with pytest.raises(NotImplementedError):
        Reusable(Conversation.objects.filter(pk=pk), {"pk": pk})


def _generic_plan(statement: Reusable[Conversation], **slots: object) -> str:
    """EXPLAIN of the plan PostgreSQL keeps for every run of the statement prepared (a generic
    plan: the parameters unknown), on a connection that would rather not scan the table."""
    from django.db import connection

    values = list(statement._params)
    for name, found in statement._positions.items():
        for position in found:
            values[position] = slots[name]
    numbers = itertools.count(1)
    text = re.sub(r"%s|%%", lambda m: f"${next(numbers)}" if m[0] == "%s" else "%", statement._sql)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"PREPARE kept_plan AS {text}")
        try:
            written = ", ".join(Literal(value).as_string(None) for value in values)
            cursor.execute(f"EXPLAIN EXECUTE kept_plan({written})")
            return "\n".join(row[0] for row in cursor.fetchall())
        finally:
            cursor.execute("DEALLOCATE kept_plan")


def test_a_plan_kept_for_every_run_can_use_a_partial_index(operator) -> None:
    """The open list's index (chats 0003) holds only `status IN ('open', 'snoozed')`:
    PostgreSQL's generic plan for the inbox page's statement can use it only when the statuses
    are written in the statement, not passed as parameters (else every run is planned afresh:
    7 ms on the inbox page)."""
    from chats.views.presenters.listing import _page_queryset

    now = slot_datetime()
    statement = Reusable(_page_queryset(operator, "mine", now)[:51], {"now": now})

    assert "conv_active_order" in _generic_plan(statement, now=timezone.now())
    assert "'open'" in statement._sql and Conversation.Status.OPEN not in statement._params


def test_text_written_in_is_quoted_and_runs_to_the_same_rows(support_inbox) -> None:
    """A text with a quote, a backslash, a percent sign and a placeholder's look is written in
    quoted: the statement finds what the queryset finds."""
    from customers.models import Customer

    name = "O'Brien 100% C:\\x %s"
    customer = Customer.objects.create(first_name=name, last_name="Ершова")
    pk = slot_int()
    named = Customer.objects.filter(first_name=name, pk__gt=pk)
    statement = Reusable(named, {"pk": pk})

    assert "O''Brien 100%%" in statement._sql and name not in statement._params
    assert [c.pk for c in statement.run(pk=0)] == [customer.pk]
    assert statement.run(pk=customer.pk) == []
