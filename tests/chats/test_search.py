from __future__ import annotations

import pytest

from chats.selectors import search_conversations
from chats.services import messages as message_services
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def found(operator):
    def search(q: str) -> set[int]:
        return set(search_conversations(operator, q).values_list("pk", flat=True))

    return search


def test_search_finds_message_text_by_word_prefix_in_russian(found, support_inbox) -> None:
    hit = factories.make_conversation(inbox=support_inbox, text="Без кунжута, пожалуйста")
    factories.make_conversation(inbox=support_inbox, text="Где курьер?")

    assert found("кунжут") == {hit.pk}  # a prefix of кунжута
    assert found("без кунж") == {hit.pk}
    assert found("кунжут курьер") == set()  # every word must match


def test_search_finds_the_customer_by_name_and_by_phone_digits(found, support_inbox) -> None:
    svetlana = factories.make_customer("Svetlana", "Morozova", phone="+7 (916) 555-01-02")
    hit = factories.make_conversation(inbox=support_inbox, customer=svetlana)
    factories.make_conversation(inbox=support_inbox)

    assert found("morozova") == {hit.pk}
    assert found("Svetlana Morozova") == {hit.pk}
    assert found("8 916 555 01 02"[2:]) == {hit.pk}  # digits as typed, without the country code


def test_search_stays_inside_the_gate(found, support_inbox, delivery_inbox) -> None:
    factories.make_conversation(inbox=delivery_inbox, text="кунжут в другой команде")

    assert found("кунжут") == set()


def test_deleted_messages_are_not_searchable(found, operator, support_inbox) -> None:
    conversation = factories.make_conversation(inbox=support_inbox, text="секретный промокод")
    message_services.message_delete(message=conversation.messages.get(), actor=operator)

    assert found("промокод") == set()


def test_an_empty_or_punctuation_query_finds_nothing(found, support_inbox) -> None:
    factories.make_conversation(inbox=support_inbox)

    assert found("") == set()
    assert found("!!! ???") == set()
