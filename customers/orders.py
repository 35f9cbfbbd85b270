"""Writes from the back office: customers and orders upserted by their `external_id`.

One code path for a single order, the bulk endpoint, the CSV import and the status webhook:
`orders_upsert(rows=…)` takes rows already validated (`customers.serializers`), writes them in
a handful of set-based statements whatever their number, and settles the loyalty ledger in
the same transaction. Upserting the same rows again changes nothing and accrues nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.loyalty.accrual import loyalty_orders_settle
from customers.models import (
    Customer,
    CustomerTag,
    Identity,
    LanguageSource,
    Order,
    OrderItem,
    Product,
    PromoParticipation,
)
from customers.services import identity_normalise
from smartdesk.core.updates import model_update

MAX_BULK = 1000
ORDER_FIELDS = (
    "customer_id",
    "placed_at",
    "status",
    "status_changed_at",
    "total",
    "currency",
    "channel",
    "address",
)
CUSTOMER_NAME_FIELDS = ("first_name", "last_name", "language")


@dataclass
class UpsertResult:
    created: int = 0
    updated: int = 0
    # row index -> reason the row was not stored / note about what was skipped in it
    errors: dict[int, dict[str, Any]] = field(default_factory=dict)
    warnings: dict[int, list[str]] = field(default_factory=dict)
    orders: list[Order] = field(default_factory=list)

    @property
    def stored(self) -> int:
        return self.created + self.updated


# --- customers --------------------------------------------------------------------------------


def _identity_values(spec: dict[str, Any]) -> tuple[list[tuple[str, str]], list[str]]:
    """The (kind, normalised value) pairs a customer spec names, and what could not be read."""
    pairs, problems = [], []
    for key, kind in (("phones", Identity.Kind.PHONE), ("emails", Identity.Kind.EMAIL)):
        values = list(spec.get(key) or [])
        single = spec.get(key[:-1])
        if single:
            values.append(single)
        for raw in values:
            try:
                value = identity_normalise(kind, raw)
            except ValidationError:
                value = ""
            if value:
                pairs.append((kind, value))
            else:
                problems.append(_("Not a valid %(kind)s: %(value)s") % {"kind": kind, "value": raw})
    return pairs, problems


def _resolve_customers(
    specs: dict[str, dict[str, Any]],
) -> tuple[dict[str, Customer], dict[str, list[str]]]:
    """external_id -> Customer for every spec, created or updated; and per external_id the
    notes about identities that could not be attached.

    A customer the back office does not know yet but who already wrote to us (an identity
    of theirs is on a customer without an external id) is adopted, not duplicated.
    """
    notes: dict[str, list[str]] = {}
    found = {c.external_id: c for c in Customer.objects.filter(external_id__in=list(specs))}
    identities = {ext: _identity_values(spec) for ext, spec in specs.items()}
    for ext, (_pairs, problems) in identities.items():
        if problems:
            notes.setdefault(ext, []).extend(problems)
    wanted = {pair for pairs, _p in identities.values() for pair in pairs}
    owners: dict[tuple[str, str], tuple[int, str | None]] = {}
    if wanted:
        match = Q()
        for kind, value in wanted:
            match |= Q(kind=kind, value=value)
        owners = {
            (kind, value): (customer_id, ext)
            for kind, value, customer_id, ext in Identity.objects.filter(match).values_list(
                "kind", "value", "customer_id", "customer__external_id"
            )
        }
    # Adopt a channel customer (no back-office id yet) that shares an identity.
    adopted: set[int] = set()
    for ext in specs:
        if ext in found:
            continue
        for pair in identities[ext][0]:
            owner = owners.get(pair)
            if owner and owner[1] is None and owner[0] not in adopted:
                claimed = Customer.objects.filter(pk=owner[0], external_id__isnull=True).update(
                    external_id=ext
                )
                if claimed:
                    adopted.add(owner[0])
                    found[ext] = Customer.objects.get(pk=owner[0])
                    break
    missing = [Customer(external_id=ext) for ext in specs if ext not in found]
    if missing:
        Customer.objects.bulk_create(missing, ignore_conflicts=True)
        found.update(
            {
                c.external_id: c
                for c in Customer.objects.filter(external_id__in=[m.external_id for m in missing])
            }
        )
    # Names and language: what the back office sends wins, an empty value changes nothing.
    changed = []
    for ext, spec in specs.items():
        customer = found[ext]
        dirty = False
        for name in CUSTOMER_NAME_FIELDS:
            value = spec.get(name)
            if value and getattr(customer, name) != value:
                setattr(customer, name, value)
                dirty = True
        # The back office sets the language on purpose: it outranks a messenger's or a
        # browser's (customers.languages).
        if spec.get("language") and customer.language_source != LanguageSource.EXPLICIT:
            customer.language_source = LanguageSource.EXPLICIT
            dirty = True
        if dirty:
            customer.updated_at = timezone.now()  # bulk_update does not touch auto_now
            changed.append(customer)
    if changed:
        Customer.objects.bulk_update(
            changed, [*CUSTOMER_NAME_FIELDS, "language_source", "updated_at"]
        )
    # Identities: add what is missing; one owned by somebody else stays theirs (an admin
    # merges the two customers if they are one person).
    new_identities = []
    for ext, (pairs, _problems) in identities.items():
        customer = found[ext]
        for pair in pairs:
            owner = owners.get(pair)
            if owner is None:
                owners[pair] = (customer.pk, ext)
                new_identities.append(Identity(customer=customer, kind=pair[0], value=pair[1]))
            elif owner[0] != customer.pk:
                notes.setdefault(ext, []).append(
                    _("%(value)s belongs to another customer (#%(id)d); not attached.")
                    % {"value": pair[1], "id": owner[0]}
                )
    if new_identities:
        Identity.objects.bulk_create(new_identities, ignore_conflicts=True)
    return found, notes


def _replace_tags(customer: Customer, kind: str, values: Iterable[str]) -> None:
    values = {v.strip() for v in values if v and v.strip()}
    customer.tags.filter(kind=kind).exclude(value__in=values).delete()
    CustomerTag.objects.bulk_create(
        [CustomerTag(customer=customer, kind=kind, value=v) for v in sorted(values)],
        ignore_conflicts=True,
    )


TAG_KEYS = {
    "allergies": CustomerTag.Kind.ALLERGEN,
    "dislikes": CustomerTag.Kind.DISLIKE,
    "favourites": CustomerTag.Kind.FAVOURITE,
    "preferences": CustomerTag.Kind.PREFERENCE,
}


@transaction.atomic
def customer_upsert(*, data: dict[str, Any]) -> tuple[Customer, bool, list[str]]:
    """Create or update the customer with `data["external_id"]` (validated data). Lists
    (allergies, dislikes, favourites, preferences, promotions) replace what was stored when
    they are given and are left alone when they are not. Returns (customer, created, notes)."""
    ext = data["external_id"]
    existed = Customer.objects.filter(external_id=ext).exists()
    found, notes = _resolve_customers({ext: data})
    customer = found[ext]
    updates = {name: data[name] for name in ("birthday", "notes") if name in data}
    if updates:
        model_update(customer, **updates)
    for key, kind in TAG_KEYS.items():
        if key in data:
            _replace_tags(customer, kind, data[key])
    if "promotions" in data:
        codes = [p["code"] for p in data["promotions"]]
        customer.promotions.exclude(code__in=codes).delete()
        for promo in data["promotions"]:
            PromoParticipation.objects.update_or_create(
                customer=customer,
                code=promo["code"],
                defaults={k: v for k, v in promo.items() if k != "code"},
            )
    return customer, not existed, notes.get(ext, [])


# --- orders -----------------------------------------------------------------------------------


def _stale(existing: Order | None, incoming: datetime) -> bool:
    return existing is not None and existing.status_changed_at > incoming


@transaction.atomic
def orders_upsert(
    *, rows: list[tuple[int, dict[str, Any]]], now: datetime | None = None
) -> UpsertResult:
    """Upsert validated order rows, given as (row index, data). A row whose customer the
    order does not belong to is refused in `errors`; every other row is stored."""
    now = now or timezone.now()
    result = UpsertResult()
    # The last row for an external id wins, as if they had come one after the other.
    latest: dict[str, tuple[int, dict[str, Any]]] = {}
    for index, data in rows:
        previous = latest.get(data["external_id"])
        if previous is not None:
            result.errors[previous[0]] = {
                "external_id": [_("Sent again later in the same request; the later row counts.")]
            }
        latest[data["external_id"]] = (index, data)
    if not latest:
        return result
    specs: dict[str, dict[str, Any]] = {}
    for _index, data in latest.values():
        specs.setdefault(data["customer"]["external_id"], {}).update(
            {k: v for k, v in data["customer"].items() if v}
        )
    customers, notes = _resolve_customers(specs)

    ids = sorted(latest)
    existing = {
        o.external_id: o
        for o in Order.objects.select_for_update()
        .filter(external_id__in=ids)
        .order_by("external_id")
    }
    orders: list[Order] = []
    with_items: dict[str, list[dict[str, Any]]] = {}
    for ext in ids:
        index, data = latest[ext]
        customer = customers[data["customer"]["external_id"]]
        before = existing.get(ext)
        if before is not None and before.customer_id != customer.pk:
            result.errors[index] = {
                "customer": [
                    _("Order %(id)s belongs to another customer; it cannot move.") % {"id": ext}
                ]
            }
            continue
        # Without the back office's own time, the status dates from the order: history
        # imported today still counts in the tier window of when it happened.
        changed_at = data.get("status_changed_at") or data["placed_at"]
        order = Order(
            external_id=ext,
            customer=customer,
            placed_at=data["placed_at"],
            status=data["status"],
            status_changed_at=changed_at,
            total=data["total"],
            currency=data["currency"],
            channel=data.get("channel", ""),
            address=data.get("address", ""),
        )
        if _stale(before, changed_at):
            # A late retry of an older state: keep the newer status we already have.
            order.status = before.status
            order.status_changed_at = before.status_changed_at
        orders.append(order)
        if data.get("items") is not None:
            with_items[ext] = data["items"]
        if before is None:
            result.created += 1
        else:
            result.updated += 1
        customer_notes = notes.get(data["customer"]["external_id"])
        if customer_notes:
            result.warnings[index] = customer_notes
    if not orders:
        return result
    Order.objects.bulk_create(
        orders,
        update_conflicts=True,
        unique_fields=["external_id"],
        update_fields=[f for f in ORDER_FIELDS if f != "customer_id"] + ["customer", "updated_at"],
    )
    if orders[0].pk is None:  # a backend without RETURNING on upsert
        pks = dict(Order.objects.filter(external_id__in=ids).values_list("external_id", "pk"))
        for order in orders:
            order.pk = pks[order.external_id]
    _write_items(orders, with_items)
    loyalty_orders_settle(orders=orders, now=now)
    result.orders = orders
    return result


def _write_items(orders: list[Order], with_items: dict[str, list[dict[str, Any]]]) -> None:
    """Items given replace the order's items; products learn names and declared allergens."""
    if not with_items:
        return
    by_ext = {o.external_id: o for o in orders if o.external_id in with_items}
    OrderItem.objects.filter(order__in=list(by_ext.values())).delete()
    items, named, declared = [], {}, {}
    for ext, order in by_ext.items():
        for item in with_items[ext]:
            items.append(
                OrderItem(
                    order=order,
                    sku=item["sku"],
                    name=item["name"],
                    quantity=item.get("quantity", 1),
                    price=item["price"],
                    modifiers=item.get("modifiers") or [],
                )
            )
            if item.get("allergens") is not None:
                declared[item["sku"]] = Product(
                    sku=item["sku"], name=item["name"], allergens=sorted(set(item["allergens"]))
                )
            else:
                named[item["sku"]] = Product(sku=item["sku"], name=item["name"])
    OrderItem.objects.bulk_create(items)
    named = {sku: p for sku, p in named.items() if sku not in declared}
    if named:
        Product.objects.bulk_create(
            sorted(named.values(), key=lambda p: p.sku),
            update_conflicts=True,
            unique_fields=["sku"],
            update_fields=["name", "updated_at"],
        )
    if declared:
        Product.objects.bulk_create(
            sorted(declared.values(), key=lambda p: p.sku),
            update_conflicts=True,
            unique_fields=["sku"],
            update_fields=["name", "allergens", "updated_at"],
        )


@dataclass(frozen=True)
class StatusChange:
    order: Order
    applied: bool  # False: an older status than the one stored, ignored


@transaction.atomic
def order_status_set(
    *, external_id: str, status: str, changed_at: datetime | None = None
) -> StatusChange:
    """The back office says an order changed status (the webhook). Completing accrues once;
    cancelling or refunding a completed order reverses its accrual once; an older status
    arriving after a newer one is ignored."""
    changed_at = changed_at or timezone.now()
    order = Order.objects.select_for_update().filter(external_id=external_id).first()
    if order is None:
        raise Order.DoesNotExist(_("No order %(id)s.") % {"id": external_id})
    if _stale(order, changed_at) or (
        order.status == status and order.status_changed_at == changed_at
    ):
        return StatusChange(order, False)
    model_update(order, status=status, status_changed_at=changed_at)
    loyalty_orders_settle(orders=[order])
    return StatusChange(order, True)
