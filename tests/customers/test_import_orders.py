"""`manage.py import_orders FILE.csv`: streams a CRM export, stores the valid orders, reports
each rejected one with its lines and reasons, and is idempotent."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from customers.models import LoyaltyTransaction, Order, OrderItem
from customers.selectors import loyalty_summary

pytestmark = pytest.mark.django_db

HEADER = (
    "order_id,customer_id,first_name,last_name,phone,email,placed_at,status,status_changed_at,"
    "total,currency,channel,address,sku,item_name,quantity,price,modifiers,allergens\n"
)
LINES = [
    # two items of one order
    "O-1,crm-1,Svetlana,Petrova,+79120001122,,2026-01-10T12:00:00Z,completed,,18.00,EUR,app,"
    "Lenina 1,ROLL,Salmon roll,2,9.00,no sesame|extra ginger,fish\n",
    "O-1,crm-1,Svetlana,Petrova,+79120001122,,2026-01-10T12:00:00Z,completed,,18.00,EUR,app,"
    "Lenina 1,MISO,Miso soup,1,0.00,,soy\n",
    # a negative total
    "O-2,crm-1,Svetlana,,,,2026-01-11T12:00:00Z,completed,,-3,EUR,app,,TEA,Tea,1,3.00,,\n",
    # no date, bad currency
    "O-3,crm-2,Ivan,,,,,placed,,10,rubles,,,TEA,Tea,1,10,,\n",
    '"O-4",crm-2,Ivan,,,,2026-01-12T08:00:00+03:00,placed,,10.00,RUB,web,"Tverskaya 7,\n'
    'entrance 2",TEA,Tea,1,10.00,,\n',
]


@pytest.fixture
def export(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + "".join(LINES), encoding="utf-8")
    return path


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_orders", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_it_stores_the_valid_orders_and_reports_the_rejected_ones(export, tiers, tmp_path):
    rejected = tmp_path / "rejected.csv"

    out, err = run(str(export), "--rejected", str(rejected))

    assert "Orders: 2 created, 0 updated, 2 rejected." in out
    assert "line 4, O-2: total:" in out
    assert "line 5, O-3:" in out and "placed_at" in out and "currency" in out
    assert "100%" in err and "#" in err  # the progress bar reached the end
    assert sorted(Order.objects.values_list("external_id", flat=True)) == ["O-1", "O-4"]
    assert list(
        OrderItem.objects.filter(order__external_id="O-1").values_list("sku", "quantity")
    ) == [("ROLL", 2), ("MISO", 1)]
    assert Order.objects.get(external_id="O-4").address == "Tverskaya 7,\nentrance 2"
    assert rejected.read_text().count("\n") == 3  # header and two orders


def test_importing_the_same_file_twice_changes_nothing(export, tiers):
    run(str(export), "--no-progress")
    points = loyalty_summary(Order.objects.get(external_id="O-1").customer_id).balance

    out, err = run(str(export), "--no-progress")

    assert "Orders: 0 created, 2 updated, 2 rejected." in out
    assert err == ""
    assert Order.objects.count() == 2 and OrderItem.objects.count() == 3
    assert LoyaltyTransaction.objects.filter(kind="accrual").count() == 1
    assert loyalty_summary(Order.objects.get(external_id="O-1").customer_id).balance == points


def test_batches_are_streamed(tmp_path, tiers):
    path = tmp_path / "many.csv"
    with path.open("w") as f:
        f.write(HEADER)
        for i in range(25):
            f.write(
                f"M-{i},crm-{i % 3},,,,,2026-02-01T10:00:00Z,completed,,5.00,EUR,,,"
                f"TEA,Tea,1,5.00,,\n"
            )

    out, _err = run(str(path), "--batch", "10", "--no-progress")

    assert "Orders: 25 created, 0 updated, 0 rejected." in out
    assert Order.objects.count() == 25


def test_a_file_without_the_needed_columns_is_refused(tmp_path):
    path = tmp_path / "wrong.csv"
    path.write_text("id,name\n1,x\n")
    with pytest.raises(CommandError, match="order_id"):
        run(str(path))
    with pytest.raises(CommandError, match="No such file"):
        run(str(tmp_path / "missing.csv"))
