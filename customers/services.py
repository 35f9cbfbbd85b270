"""Writes for customers and their identities."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from customers.models import Customer, Identity


def identity_normalise(kind: str, value: str) -> str:
    """The stored form of an identity value. #5 replaces phones with full E.164 parsing."""
    value = (value or "").strip()
    if kind == Identity.Kind.EMAIL:
        return value.lower()
    if kind == Identity.Kind.PHONE:
        digits = "".join(ch for ch in value if ch.isdigit())
        return f"+{digits}" if digits else ""
    return value


def customer_identify(
    *, kind: str, value: str, first_name: str = "", last_name: str = "", verified: bool = False
) -> Customer:
    """The customer behind an identity, created with it on first contact.

    Safe under concurrent first contacts: the unique (kind, value) decides, the loser re-reads.
    """
    if kind not in Identity.Kind.values:
        raise ValidationError(_("Unknown identity kind: %(kind)s") % {"kind": kind})
    value = identity_normalise(kind, value)
    if not value:
        raise ValidationError(_("An identity needs a value."))
    limit = Identity._meta.get_field("value").max_length
    if len(value) > limit:
        raise ValidationError(
            _("The identity is too long (at most %(n)d characters).") % {"n": limit}
        )
    found = Identity.objects.select_related("customer").filter(kind=kind, value=value).first()
    if found is not None:
        return found.customer
    try:
        with transaction.atomic():
            customer = Customer.objects.create(first_name=first_name, last_name=last_name)
            Identity.objects.create(customer=customer, kind=kind, value=value, verified=verified)
            return customer
    except IntegrityError:
        return Identity.objects.select_related("customer").get(kind=kind, value=value).customer
