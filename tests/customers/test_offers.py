"""Personal offers from order history, and the allergy words behind both the offers and the
composer's warning: an item containing one of the customer's allergens is never offered."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from customers.allergens import conflicts, item_allergens
from customers.models import Customer, CustomerTag, Product
from customers.offers import associations_rebuild, offers_for
from customers.selectors import allergy_conflicts
from tests import factories

pytestmark = pytest.mark.django_db


def item(sku: str, name: str, **extra):
    return {"sku": sku, "name": name, "price": "5", **extra}


def offers(customer: Customer, **kwargs):
    allergies = set(customer.tags.filter(kind="allergen").values_list("value", flat=True))
    defaults = {
        "last_order_at": timezone.now(),
        "spend": Decimal("0"),
        "next_threshold": None,
    }
    return offers_for(customer_id=customer.pk, allergies=allergies, **{**defaults, **kwargs})


def test_favourites_and_items_bought_together_leave_out_the_allergens(tiers):
    # everyone who orders a salmon roll takes a sesame bagel (declared) or a halva (by name)
    # or a green tea with it
    for n in range(3):
        factories.make_order(
            f"X-{n}",
            customer=f"other-{n}",
            items=[
                item("ROLL", "Salmon roll"),
                item("BAGEL", "Bagel", allergens=["sesame"]),
                item("HALVA", "Halva dessert"),
                item("TEA", "Green tea"),
            ],
        )
    for n in range(3):
        factories.make_order(f"S-{n}", customer="svetlana", items=[item("ROLL", "Salmon roll")])
    # she also loved the sesame bagel, before she knew
    factories.make_order("S-9", customer="svetlana", items=[item("BAGEL", "Bagel")])
    factories.make_order("S-10", customer="svetlana", items=[item("BAGEL", "Bagel")])
    svetlana = Customer.objects.get(external_id="svetlana")
    CustomerTag.objects.create(customer=svetlana, kind="allergen", value="sesame")
    associations_rebuild()

    found = offers(svetlana)

    assert [(o.kind, o.sku) for o in found] == [("favourite", "ROLL"), ("together", "TEA")]
    assert all("Bagel" not in o.text and "Halva" not in o.text for o in found)
    # without the allergy the bagel is a favourite, and the halva goes with the roll
    svetlana.tags.all().delete()
    assert {o.sku for o in offers(svetlana)} >= {"BAGEL", "HALVA"}


def test_a_lapsed_customer_and_one_close_to_the_next_tier_get_a_nudge(tiers):
    factories.make_order("L-1", customer="lapsed", placed_at=timezone.now() - timedelta(days=90))
    customer = Customer.objects.get(external_id="lapsed")

    kinds = [
        o.kind
        for o in offers(
            customer,
            last_order_at=timezone.now() - timedelta(days=90),
            spend=Decimal("450"),
            next_threshold=Decimal("500"),
            next_tier_name="Silver",
        )
    ]

    assert kinds == ["next_tier", "lapsed"]
    assert not offers(customer, spend=Decimal("100"), next_threshold=Decimal("500"))


def test_item_allergens_come_from_the_declaration_the_name_and_the_modifiers():
    assert item_allergens("Salmon roll", ["extra sesame"]) == {"fish", "sesame"}
    assert item_allergens("Bagel", [], ["sesame"]) == {"sesame"}
    assert item_allergens("Donut") == set()  # "nut" only at a word start
    assert item_allergens("Кунжутная булочка") == {"sesame", "gluten"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Svetlana, leave out the sesame like last time?", []),
        ("Без кунжута, как в прошлый раз?", []),
        ("Try our new sesame bun!", ["sesame"]),
        ("Добавить кунжутный соус?", ["sesame"]),
        ("How about the tahini dip?", ["sesame"]),
        ("Your order is on its way.", []),
    ],
)
def test_the_composer_check_names_an_allergen_unless_it_is_left_out(text, expected):
    assert [c.allergen for c in conflicts(text, {"sesame"})] == expected


def test_a_product_declared_with_an_allergen_is_caught_by_its_name(db):
    customer = factories.make_customer("Svetlana")
    CustomerTag.objects.create(customer=customer, kind="allergen", value="sesame")
    Product.objects.create(sku="B1", name="Everything Bagel", allergens=["sesame"])
    Product.objects.create(sku="T1", name="Green tea", allergens=[])

    found = allergy_conflicts(customer.pk, "Shall I add an everything bagel to your order?")

    assert [(c.allergen, c.words) for c in found] == [("sesame", ("everything bagel",))]
    assert allergy_conflicts(customer.pk, "Shall I add a green tea?") == []
