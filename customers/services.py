"""Writes for customers and their identities."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from customers.models import Customer, Identity


def identity_normalise(kind: str, value: str) -> str:
    """The stored form of an identity value; "" when it is not a valid one.

    E-mails are lower-cased. Phones become E.164 (`+79161234567`) with the `phonenumbers`
    library; a number without a country code is read in `PHONE_DEFAULT_REGION`. So
    "8 (916) 123-45-67", "+7 916 123 45 67" and "79161234567" are one customer.
    """
    value = (value or "").strip()
    if kind == Identity.Kind.EMAIL:
        return value.lower() if "@" in value else ""
    if kind == Identity.Kind.PHONE:
        import phonenumbers
        from django.conf import settings

        region = getattr(settings, "PHONE_DEFAULT_REGION", "") or None
        digits = "".join(ch for ch in value if ch.isdigit())
        candidates = [value]
        if not value.startswith("+") and len(digits) > 10:
            candidates.append("+" + digits)  # "79161234567": a country code without the plus
        for candidate in candidates:
            try:
                number = phonenumbers.parse(candidate, region)
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.is_valid_number(number):
                return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        return ""
    return value


def customer_fill_blank_names(
    customer: Customer, *, first_name: str = "", last_name: str = ""
) -> None:
    """Fill in the names `customer` still lacks; a name it has is never overwritten."""
    blanks = {
        field: given
        for field, given in (("first_name", first_name), ("last_name", last_name))
        if given and not getattr(customer, field)
    }
    if blanks:
        Customer.objects.filter(pk=customer.pk).update(**blanks)
        for field, given in blanks.items():
            setattr(customer, field, given)


def customer_identify(
    *, kind: str, value: str, first_name: str = "", last_name: str = "", verified: bool = False
) -> Customer:
    """The customer behind an identity, created with it on first contact.

    Safe under concurrent first contacts: the unique (kind, value) decides, the loser re-reads.
    """
    if kind not in Identity.Kind.values:
        raise ValidationError(_("Unknown identity kind: %(kind)s") % {"kind": kind})
    raw = value
    value = identity_normalise(kind, value)
    if not value:
        if kind == Identity.Kind.PHONE and (raw or "").strip():
            raise ValidationError(_("This is not a valid phone number."))
        if kind == Identity.Kind.EMAIL and (raw or "").strip():
            raise ValidationError(_("This is not a valid e-mail address."))
        raise ValidationError(_("An identity needs a value."))
    limit = Identity._meta.get_field("value").max_length
    if len(value) > limit:
        raise ValidationError(
            _("The identity is too long (at most %(n)d characters).") % {"n": limit}
        )
    found = Identity.objects.select_related("customer").filter(kind=kind, value=value).first()
    if found is not None:
        # A proof that arrives later (a signed identify, a contact Telegram vouches for)
        # upgrades the identity; a name fills in only what is still blank.
        if verified and not found.verified:
            Identity.objects.filter(pk=found.pk).update(verified=True)
        customer = found.customer
        customer_fill_blank_names(customer, first_name=first_name, last_name=last_name)
        return customer
    try:
        with transaction.atomic():
            customer = Customer.objects.create(first_name=first_name, last_name=last_name)
            Identity.objects.create(customer=customer, kind=kind, value=value, verified=verified)
            return customer
    except IntegrityError:
        return Identity.objects.select_related("customer").get(kind=kind, value=value).customer
