"""Personal offers derived from order history (docs/customers.md, "Offers").

Four kinds, best first: the customer's favourite items, items often bought together with
them (association counts over all customers' orders), a nudge when the next tier is close,
and a welcome back for a lapsed customer. An item that contains one of the customer's
allergens — declared by the back office for its SKU, or named in the item's name — is never
offered, whatever the kind. A fixed number of queries, whatever the number of orders.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Count, Max
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.allergens import item_allergens
from customers.models import ItemAssociation, OrderItem, Product

LAPSED_AFTER = timedelta(days=45)
CLOSE_TO_TIER = Decimal("0.8")  # 80 % of the way to the next threshold
FAVOURITES = 3
TOGETHER = 2


@dataclass(frozen=True)
class Offer:
    kind: str  # favourite | together | next_tier | lapsed
    title: str
    text: str  # what the operator can send, as is or through a template
    sku: str = ""


def _safe(skus: set[str], names: dict[str, str], allergies: set[str]) -> set[str]:
    """The SKUs among `skus` that contain none of `allergies`."""
    if not allergies:
        return set(skus)
    declared = dict(Product.objects.filter(sku__in=skus).values_list("sku", "allergens"))
    return {
        sku
        for sku in skus
        if not (item_allergens(names.get(sku, ""), (), declared.get(sku) or []) & allergies)
    }


def offers_for(
    *,
    customer_id: int,
    allergies: set[str],
    last_order_at: datetime | None,
    spend: Decimal,
    next_threshold: Decimal | None,
    next_tier_name: str = "",
    now: datetime | None = None,
) -> list[Offer]:
    now = now or timezone.now()
    offers: list[Offer] = []
    # Favourites: the items ordered most often (by number of orders), newest as tie-break.
    top = list(
        OrderItem.objects.filter(order__customer_id=customer_id)
        .values("sku")
        .annotate(orders=Count("order_id", distinct=True), name=Max("name"), last=Max("order_id"))
        .order_by("-orders", "-last", "sku")[:10]
    )
    names = {row["sku"]: row["name"] for row in top}
    bought = set(names)
    pairs = list(
        ItemAssociation.objects.filter(sku__in=list(bought))
        .exclude(other_sku__in=list(bought))
        .order_by("-orders", "other_sku")
        .values_list("sku", "other_sku", "orders")[:20]
    )
    other_names = dict(
        Product.objects.filter(sku__in={p[1] for p in pairs}).values_list("sku", "name")
    )
    all_names = {**other_names, **names}
    safe = _safe(bought | set(other_names), all_names, allergies)

    for row in top:
        if len([o for o in offers if o.kind == "favourite"]) >= FAVOURITES:
            break
        if row["sku"] not in safe or row["orders"] < 2:
            continue
        name = row["name"]
        offers.append(
            Offer(
                kind="favourite",
                title=_("Favourite: %(item)s (%(n)d orders)") % {"item": name, "n": row["orders"]},
                text=_(
                    "Your favourite %(item)s again? We will make sure it is just as you like it."
                )
                % {"item": name},
                sku=row["sku"],
            )
        )
    seen: set[str] = set()
    for sku, other, _count in pairs:
        if len(seen) >= TOGETHER:
            break
        if other in seen or other not in safe or sku not in safe or other not in other_names:
            continue
        seen.add(other)
        offers.append(
            Offer(
                kind="together",
                title=_("Often bought with %(item)s: %(other)s")
                % {"item": names[sku], "other": other_names[other]},
                text=_("Guests who order %(item)s often add %(other)s. Shall we add it?")
                % {"item": names[sku], "other": other_names[other]},
                sku=other,
            )
        )
    if (
        next_threshold is not None
        and next_threshold > 0
        and spend >= next_threshold * CLOSE_TO_TIER
    ):
        missing = max(next_threshold - spend, Decimal("0"))
        offers.append(
            Offer(
                kind="next_tier",
                title=_("%(amount)s to %(tier)s") % {"amount": missing, "tier": next_tier_name},
                text=_("You are only %(amount)s away from %(tier)s status!")
                % {"amount": missing, "tier": next_tier_name},
            )
        )
    if last_order_at is not None and now - last_order_at > LAPSED_AFTER:
        offers.append(
            Offer(
                kind="lapsed",
                title=_("Lapsed: no order for %(days)d days")
                % {"days": (now - last_order_at).days},
                text=_("We have missed you! Here is a little something for your next order."),
            )
        )
    return offers


def associations_rebuild() -> int:
    """Recount "bought together" over all orders, in SQL (one statement each way).
    Returns the number of pairs. Run by a periodic task; safe to run any time."""
    table = ItemAssociation._meta.db_table
    items = OrderItem._meta.db_table
    with transaction.atomic():
        ItemAssociation.objects.all().delete()
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                INSERT INTO {table} (sku, other_sku, orders)
                SELECT a.sku, b.sku, COUNT(DISTINCT a.order_id)
                  FROM {items} a JOIN {items} b ON a.order_id = b.order_id AND a.sku <> b.sku
                 GROUP BY a.sku, b.sku
                HAVING COUNT(DISTINCT a.order_id) >= 2
                """  # noqa: S608 - table names come from the models, no input
            )
            return cursor.rowcount
