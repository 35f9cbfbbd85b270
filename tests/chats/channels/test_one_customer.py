"""One customer across channels: phones in E.164, verified identities joining the customer
they name, and admin merges that repoint everything and can be undone from their log."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client, override_settings

from chats.models import Conversation, Inbox, TelegramChat
from customers.identities import customer_link_verified, customer_merge, customer_unmerge
from customers.models import Customer, CustomerMerge, Identity
from customers.services import customer_identify, identity_normalise
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "raw", ["+7 916 123-45-67", "8 (916) 123-45-67", "79161234567", "+79161234567", "916 123 45 67"]
)
def test_russian_phone_formats_normalise_to_one_e164_number(raw: str) -> None:
    assert identity_normalise("phone", raw) == "+79161234567"


@override_settings(PHONE_DEFAULT_REGION="DE")
def test_the_default_region_reads_numbers_without_a_country_code() -> None:
    assert identity_normalise("phone", "030 123456") == "+4930123456"
    assert identity_normalise("phone", "+7 916 123-45-67") == "+79161234567"


def test_an_invalid_phone_is_refused_with_a_clear_message() -> None:
    with pytest.raises(ValidationError, match="not a valid phone number"):
        customer_identify(kind="phone", value="12")


def test_emails_are_lower_cased_and_two_spellings_are_one_customer() -> None:
    first = customer_identify(kind="email", value="Olga@Example.COM")
    second = customer_identify(kind="email", value="olga@example.com ")
    assert first.pk == second.pk


def test_a_verified_identity_naming_a_known_customer_merges_the_newcomer_into_them(
    support_inbox: Inbox,
) -> None:
    known = factories.make_customer("Ольга", email="olga@example.com")
    newcomer = factories.make_customer("", phone="+79160000001")
    factories.make_conversation(inbox=support_inbox, customer=newcomer)

    joined = customer_link_verified(customer=newcomer, identities=[("email", "OLGA@example.com")])

    assert joined.pk == known.pk
    assert Conversation.objects.get().customer_id == known.pk
    assert set(known.identities.values_list("kind", flat=True)) == {"email", "phone"}


def test_an_unverified_identity_never_moves_anything() -> None:
    known = factories.make_customer("Ольга", email="olga@example.com")
    stranger = customer_identify(kind="telegram", value="555")

    # An identity typed by anyone is looked up, never used to join records.
    assert customer_identify(kind="email", value="olga@example.com").pk == known.pk
    assert Identity.objects.get(kind="telegram").customer_id == stranger.pk


def test_a_merge_moves_every_relation_and_the_undo_puts_exactly_those_back(
    support_inbox: Inbox, delivery_inbox: Inbox, admin_user
) -> None:
    source = factories.make_customer("Ольга", email="olga@a.test")
    target = factories.make_customer("", phone="+79161234567")
    moved_conversation = factories.make_conversation(inbox=support_inbox, customer=source)
    telegram = factories.make_inbox(name="TG", kind=Inbox.Kind.TELEGRAM)
    # A relation with related_name="+" (hidden) moves too: found through the model's meta.
    chat = TelegramChat.objects.create(inbox=telegram, customer=source, chat_id=1)

    merge = customer_merge(source=source, target=target, actor=admin_user, reason="тот же номер")

    assert Conversation.objects.get(pk=moved_conversation.pk).customer_id == target.pk
    assert TelegramChat.objects.get(pk=chat.pk).customer_id == target.pk
    assert source.identities.count() == 0
    target.refresh_from_db()
    assert target.first_name == "Ольга"  # filled in where the kept customer had nothing
    assert merge.moved["chats.Conversation.customer"] == [moved_conversation.pk]

    # Something new arrives for the merged customer before the undo: it stays.
    later = factories.make_conversation(inbox=delivery_inbox, customer=target)
    customer_unmerge(merge=merge, actor=admin_user)

    assert Conversation.objects.get(pk=moved_conversation.pk).customer_id == source.pk
    assert Conversation.objects.get(pk=later.pk).customer_id == target.pk
    assert TelegramChat.objects.get(pk=chat.pk).customer_id == source.pk
    assert list(source.identities.values_list("value", flat=True)) == ["olga@a.test"]
    target.refresh_from_db()
    assert target.first_name == ""
    assert CustomerMerge.objects.get().undone_by == admin_user


def test_a_merge_is_refused_for_the_same_customer_or_one_already_merged() -> None:
    a = factories.make_customer("A", email="a@x.test")
    b = factories.make_customer("B", email="b@x.test")
    c = factories.make_customer("C", email="c@x.test")
    with pytest.raises(ValidationError):
        customer_merge(source=a, target=a)
    customer_merge(source=a, target=b)
    with pytest.raises(ValidationError, match="already merged"):
        customer_merge(source=a, target=c)


def test_an_admin_merges_two_customers_from_the_admin_and_undoes_it(
    super_admin, support_inbox: Inbox
) -> None:
    a = factories.make_customer("Ольга", email="olga@x.test")
    b = factories.make_customer("Оля", phone="+79161234567")
    conversation = factories.make_conversation(inbox=support_inbox, customer=a)
    client = Client()
    client.force_login(super_admin)

    confirm = client.post(
        "/admin/customers/customer/",
        {"action": "merge_customers", "_selected_action": [a.pk, b.pk]},
    )
    assert "Keep which customer?" in confirm.content.decode()

    client.post(
        "/admin/customers/customer/",
        {
            "action": "merge_customers",
            "_selected_action": [a.pk, b.pk],
            "confirm": "yes",
            "keep": b.pk,
            "reason": "один человек",
        },
    )

    merge = CustomerMerge.objects.get()
    assert (merge.source_id, merge.target_id, merge.actor) == (a.pk, b.pk, super_admin)
    assert Conversation.objects.get(pk=conversation.pk).customer_id == b.pk

    client.post(
        "/admin/customers/customermerge/",
        {"action": "undo_merges", "_selected_action": [merge.pk]},
    )
    assert Conversation.objects.get(pk=conversation.pk).customer_id == a.pk


def test_an_operator_cannot_reach_the_merge_log(operator) -> None:
    client = Client()
    client.force_login(operator)
    assert client.get("/admin/customers/customermerge/").status_code in (302, 403)
    assert Customer.objects.count() == 0


def test_undoing_merges_out_of_order_is_refused_and_in_order_works(support_inbox: Inbox) -> None:
    from django.core.exceptions import ValidationError

    a = factories.make_customer("A", email="a@chain.test")
    b = factories.make_customer("B", email="b@chain.test")
    c = factories.make_customer("C", email="c@chain.test")
    conversation = factories.make_conversation(inbox=support_inbox, customer=a)
    first = customer_merge(source=a, target=b)
    second = customer_merge(source=b, target=c)

    with pytest.raises(ValidationError, match="first"):
        customer_unmerge(merge=first)

    first.refresh_from_db()
    assert first.undone_at is None
    customer_unmerge(merge=second)
    customer_unmerge(merge=first)
    assert Conversation.objects.get(pk=conversation.pk).customer_id == a.pk
    assert Identity.objects.get(value="a@chain.test").customer_id == a.pk
