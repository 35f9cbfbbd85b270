"""Customer card render and bulk order upsert, against raw-SQL / COPY baselines in the same run.

    .venv/bin/python bench/customer.py [--orders 1000000] [--customers 100000] [--requests 60]
                                       [--batches 10]

Builds its own PostgreSQL database (`bench_customer_<pid>`, dropped at the end;
bench/common.py; `--smoke`: seconds, for CI) and fills it with PostgreSQL COPY: `--customers` customers, `--orders` orders with
two items each, 500 of them (and a ledger, allergies, a conversation) for the customer whose
card is measured. Then:

- the card fragment (`/inbox/c/<id>/panel/?part=card`) and the whole panel, through Django's
  full handler (middleware, session, the access gate, templates): p50 / p95 server time and
  the query count, beside a bare view returning the same facts by raw SQL;
- `bulk_upsert` (the bulk endpoint's path: validation, upsert, items, loyalty accrual) in
  batches of 1,000 new orders, in rows per second, beside `COPY` of the same rows into
  tables shaped like the real ones.

Not a test: it asserts nothing about speed, it prints.
"""

from __future__ import annotations

import io
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402
from bench.inbox import time_requests  # noqa: E402

common.production_env()
os.environ.pop("REDIS_URL", None)  # in-memory layer: nothing here publishes

TARGET_ORDERS = 500
SKUS = [
    ("ROLL-SAL", "Salmon roll", "9.50", '["fish"]'),
    ("ROLL-DRG", "Dragon roll", "12.00", '["fish","sesame"]'),
    ("MISO", "Miso soup", "3.50", '["soy"]'),
    ("TEA", "Green tea", "2.00", "[]"),
    ("BAGEL", "Sesame bagel", "3.00", '["sesame","gluten"]'),
    ("CAKE", "Walnut cake", "4.50", '["nuts"]'),
    ("MOCHI", "Mango mochi", "4.00", "[]"),
    ("PIZZA", "Pizza Margherita", "11.00", '["gluten","lactose"]'),
    ("LEMON", "Lemonade", "2.50", "[]"),
    ("ROLL-VEG", "Avocado roll", "7.00", "[]"),
]


def _copy(cursor, sql: str, lines) -> int:
    """COPY text-format lines, written in chunks."""
    n = 0
    with cursor.copy(sql) as copy:
        buffer = io.StringIO()
        for line in lines:
            buffer.write(line)
            n += 1
            if n % 20_000 == 0:
                copy.write(buffer.getvalue())
                buffer = io.StringIO()
        copy.write(buffer.getvalue())
    return n


def _fill(orders: int, customers: int) -> int:
    """COPY the customers, orders and items; customer 1 gets TARGET_ORDERS orders."""
    from django.db import connection

    now = datetime.now(UTC)
    iso = now.isoformat()
    with connection.cursor() as c:
        raw = c.cursor
        # A bulk load: foreign-key triggers off while COPY runs (the rows are consistent by
        # construction), as a restore would do.
        c.execute("SET session_replication_role = replica")
        _copy(
            raw,
            "COPY customers_customer (id, external_id, first_name, last_name, language, notes,"
            " created_at, updated_at) FROM STDIN",
            (
                f"{i}\tcrm-{i}\tCustomer{i}\tBench\tru\t\t{iso}\t{iso}\n"
                for i in range(1, customers + 1)
            ),
        )
        _copy(
            raw,
            "COPY customers_identity (customer_id, kind, value, verified, created_at) FROM STDIN",
            (f"{i}\tphone\t+7900{i:07d}\tt\t{iso}\n" for i in range(1, customers + 1)),
        )

        def order_lines():
            for i in range(1, orders + 1):
                customer = 1 if i <= TARGET_ORDERS else 2 + i % (customers - 1)
                placed = (now - timedelta(minutes=i * 7 % 525_600)).isoformat()
                status = "completed" if i % 10 else "cancelled"
                total = f"{12 + i % 40}.50"
                yield (
                    f"{i}\tord-{i}\t{customer}\t{placed}\t{status}\t{placed}\t{total}\tEUR\t"
                    f"app\tMoscow, Tverskaya {i % 200}, flat {i % 90}\t{iso}\t{iso}\n"
                )

        started = time.perf_counter()
        _copy(
            raw,
            "COPY customers_order (id, external_id, customer_id, placed_at, status,"
            " status_changed_at, total, currency, channel, address, created_at, updated_at)"
            " FROM STDIN",
            order_lines(),
        )

        def item_lines():
            for i in range(1, orders + 1):
                for k in (i % len(SKUS), (i * 7 + 3) % len(SKUS)):
                    sku, name, price, _allergens = SKUS[k]
                    modifiers = '["no sesame"]' if sku == "ROLL-SAL" else "[]"
                    yield f"{i}\t{sku}\t{name}\t1\t{price}\t{modifiers}\n"

        _copy(
            raw,
            "COPY customers_orderitem (order_id, sku, name, quantity, price, modifiers) FROM STDIN",
            item_lines(),
        )
        print(
            f"  COPY of {orders:,} orders and {2 * orders:,} items: "
            f"{time.perf_counter() - started:.1f}s"
        )
        c.execute("SET session_replication_role = DEFAULT")
        for table in ("customers_customer", "customers_order"):
            c.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" (SELECT max(id) FROM {table}))"
            )
        c.execute("ANALYZE")
    return 1


def _setup(target: int) -> tuple[object, int]:
    """People, tiers, products, the target's allergies, ledger and conversation."""
    from decimal import Decimal

    from accounts.models import Role
    from accounts.services import user_create
    from chats.models import Conversation, Inbox
    from customers.loyalty import loyalty_orders_settle
    from customers.models import CustomerTag, LoyaltyTier, Order, Product
    from customers.offers import associations_rebuild

    admin = user_create(
        username="bench-admin", password=None, role=Role.objects.get(slug=Role.ADMIN), actor=None
    )
    for name, threshold, percent, priority in (
        ("Bronze", "0", "3", 0),
        ("Silver", "500", "5", 0),
        ("Gold", "2000", "8", 1),
    ):
        LoyaltyTier.objects.create(
            name=name,
            threshold=Decimal(threshold),
            accrual_percent=Decimal(percent),
            priority=priority,
        )
    import json

    Product.objects.bulk_create(
        [Product(sku=s, name=n, allergens=json.loads(a)) for s, n, _p, a in SKUS]
    )
    CustomerTag.objects.create(customer_id=target, kind="allergen", value="sesame")
    CustomerTag.objects.create(customer_id=target, kind="dislike", value="coriander")
    loyalty_orders_settle(orders=list(Order.objects.filter(customer_id=target)))
    started = time.perf_counter()
    pairs = associations_rebuild()
    print(
        f"  item associations over all orders: {pairs:,} pairs in "
        f"{time.perf_counter() - started:.1f}s"
    )
    inbox = Inbox.objects.create(name="Bench inbox", kind="widget")
    conversation = Conversation.objects.create(customer_id=target, inbox=inbox)
    return admin, conversation.pk


CARD_SQL = """
SELECT o.external_id, o.placed_at, o.status, o.total, o.address,
       (SELECT string_agg(i.quantity || ' x ' || i.name, ', ' ORDER BY i.id)
          FROM customers_orderitem i WHERE i.order_id = o.id) AS items,
       (SELECT string_agg(t.value, ',') FROM customers_customertag t
         WHERE t.customer_id = o.customer_id AND t.kind = 'allergen') AS allergies,
       (SELECT COALESCE(SUM(x.points), 0) FROM customers_loyaltytransaction x
          JOIN customers_loyaltyaccount a ON a.id = x.account_id
         WHERE a.customer_id = o.customer_id) AS balance
  FROM customers_order o
 WHERE o.customer_id = %s
 ORDER BY o.placed_at DESC, o.id DESC
 LIMIT 5
"""


def bare_card(request, pk: int):  # the baseline: one raw query, the same facts, minimal HTML
    from django.db import connection
    from django.http import HttpResponse
    from django.utils.html import escape

    with connection.cursor() as cursor:
        cursor.execute(CARD_SQL, [pk])
        rows = cursor.fetchall()
    return HttpResponse("".join(f"<li>{escape(r)}</li>" for r in rows))


def _measure_card(admin, conversation: int, target: int, requests: int) -> None:
    from django.test import Client
    from django.test.utils import override_settings
    from django.urls import path

    client = Client()
    client.force_login(admin)
    card = client.get(f"/inbox/c/{conversation}/panel/?part=card").content.decode()
    assert "Sesame" in card and "card-allergies has-allergies" in card, "no allergies shown"
    assert 'class="order order-last"' in card and "500 in all" in card, "no last order shown"

    class Urls:
        urlpatterns = [path("bare/card/<int:pk>/", bare_card)]

    print(f"\ncard of a customer with {TARGET_ORDERS} orders; {requests} requests each")
    print(f"  {'request':<42}{'p50 ms':>9}{'p95 ms':>9}{'queries':>9}")
    for name, url in (
        ("card fragment /panel/?part=card", f"/inbox/c/{conversation}/panel/?part=card"),
        ("whole panel /panel/", f"/inbox/c/{conversation}/panel/"),
        ("conversation page (card lazy)", f"/inbox/c/{conversation}/"),
    ):
        p50, p95, q = time_requests(lambda url=url: client.get(url), requests)
        print(f"  {name:<42}{p50:>9.2f}{p95:>9.2f}{q:>9}")
    with override_settings(ROOT_URLCONF=Urls):
        p50, p95, q = time_requests(lambda: client.get(f"/bare/card/{target}/"), requests)
        print(f"  {'bare raw-SQL card (baseline)':<42}{p50:>9.2f}{p95:>9.2f}{q:>9}")


def _bulk_rows(batch: int, n: int, customers: int) -> list[dict]:
    now = datetime.now(UTC)
    rng = random.Random(batch)
    rows = []
    for i in range(n):
        sku_a, name_a, price_a, _ = SKUS[rng.randrange(len(SKUS))]
        sku_b, name_b, price_b, _ = SKUS[rng.randrange(len(SKUS))]
        rows.append(
            {
                "external_id": f"bulk-{batch}-{i}",
                "customer": {"external_id": f"crm-{2 + rng.randrange(customers - 1)}"},
                "placed_at": (now - timedelta(minutes=i)).isoformat(),
                "status": "completed",
                "total": f"{float(price_a) + float(price_b):.2f}",
                "currency": "EUR",
                "channel": "web",
                "address": f"Moscow, Arbat {i}",
                "items": [
                    {"sku": sku_a, "name": name_a, "price": price_a},
                    {"sku": sku_b, "name": name_b, "price": price_b},
                ],
            }
        )
    return rows


def _measure_bulk(batches: int, customers: int) -> None:
    from django.db import connection, transaction

    from customers.bulk import bulk_upsert

    print(f"\nbulk upsert: {batches} batches of 1,000 new orders (2 items each, completed)")
    all_rows = [_bulk_rows(b, 1000, customers) for b in range(batches)]
    bulk_upsert(_bulk_rows(999, 10, customers))  # warm up
    started = time.perf_counter()
    for rows in all_rows:
        result = bulk_upsert(rows)
        assert result["created"] == 1000 and not result["errors"], result["errors"][:3]
    upsert_s = time.perf_counter() - started
    started = time.perf_counter()
    for rows in all_rows:  # the same rows again: all updates, no new points
        bulk_upsert(rows)
    again_s = time.perf_counter() - started

    # COPY of the same rows into tables shaped like the real ones (their indexes included).
    with connection.cursor() as c:
        c.execute(
            "CREATE TEMP TABLE copy_order (LIKE customers_order INCLUDING DEFAULTS"
            " INCLUDING INDEXES)"
        )
        c.execute(
            "CREATE TEMP TABLE copy_item (LIKE customers_orderitem INCLUDING DEFAULTS"
            " INCLUDING INDEXES)"
        )
        c.execute("CREATE TEMP SEQUENCE copy_order_id")
        c.execute("ALTER TABLE copy_order ALTER COLUMN id SET DEFAULT nextval('copy_order_id')")
        c.execute("CREATE TEMP SEQUENCE copy_item_id")
        c.execute("ALTER TABLE copy_item ALTER COLUMN id SET DEFAULT nextval('copy_item_id')")
        c.execute("SELECT external_id, id FROM customers_customer")
        ids = dict(c.fetchall())
        now = datetime.now(UTC).isoformat()
        started = time.perf_counter()
        with transaction.atomic():
            next_id = 0
            for rows in all_rows:
                order_lines, item_lines = [], []
                for row in rows:
                    next_id += 1
                    order_lines.append(
                        f"{next_id}\t{row['external_id']}\t{ids[row['customer']['external_id']]}"
                        f"\t{row['placed_at']}\t{row['status']}\t{row['placed_at']}\t"
                        f"{row['total']}\t{row['currency']}\t{row['channel']}\t"
                        f"{row['address']}\t{now}\t{now}\n"
                    )
                    for item in row["items"]:
                        item_lines.append(
                            f"{next_id}\t{item['sku']}\t{item['name']}\t1\t{item['price']}\t[]\n"
                        )
                _copy(
                    c.cursor,
                    "COPY copy_order (id, external_id, customer_id, placed_at, status,"
                    " status_changed_at, total, currency, channel, address, created_at,"
                    " updated_at) FROM STDIN",
                    order_lines,
                )
                _copy(
                    c.cursor,
                    "COPY copy_item (order_id, sku, name, quantity, price, modifiers) FROM STDIN",
                    item_lines,
                )
        copy_s = time.perf_counter() - started
    n = batches * 1000
    print(f"  {'path':<52}{'rows/s':>10}{'seconds':>9}")
    print(
        f"  {'bulk_upsert, new orders (validate, upsert, accrue)':<52}"
        f"{n / upsert_s:>10,.0f}{upsert_s:>9.2f}"
    )
    print(
        f"  {'bulk_upsert, the same orders again (idempotent)':<52}"
        f"{n / again_s:>10,.0f}{again_s:>9.2f}"
    )
    print(
        f"  {'PostgreSQL COPY of the same rows (baseline)':<52}{n / copy_s:>10,.0f}{copy_s:>9.2f}"
    )
    print(
        f"  COPY is {upsert_s / copy_s:.1f}x faster than the upsert path (orders; items ride along)"
    )


def main() -> None:
    parser = common.parser(__doc__)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--batches", type=int, default=10)
    args = parser.parse_args()
    if args.smoke:
        args.orders, args.customers, args.requests, args.batches = 600, 100, 3, 1
    common.smoke_note(args.smoke)

    common.private_database("customer")
    common.setup_django()
    common.collectstatic()  # production static storage
    print(f"loading {args.customers:,} customers, {args.orders:,} orders")
    target = _fill(args.orders, args.customers)
    admin, conversation = _setup(target)
    _measure_card(admin, conversation, target, args.requests)
    _measure_bulk(args.batches, args.customers)


if __name__ == "__main__":
    main()
