"""One customer across channels: verified identities join the customer they name, and two
customers found to be one person are merged, reversibly (docs/channels.md).

The rule, in one place:
- An identity value is stored normalised (`customers.services.identity_normalise`): e-mails
  lower-cased, phones in E.164.
- A *verified* identity (signed by the host site or app with the inbox secret, or a contact
  Telegram vouches for) that already belongs to another customer is proof that the two are one
  person: the newer customer is merged into the one that owns the identity.
- An unverified identity never moves anything: anyone can type someone else's e-mail.
- Admins merge by hand; every merge is logged in `CustomerMerge` with the ids it moved, and
  `customer_unmerge` puts exactly those back.

Merging repoints every foreign key to `Customer` found through the model's relations, so
tables added later (orders, loyalty) move too without this module knowing them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.models import Customer, CustomerMerge, Identity, LanguageSource
from customers.services import (
    customer_fill_blank_names,
    customer_identify,
    identity_normalise,
)
from smartdesk.core.oncommit import after_commit
from smartdesk.core.updates import model_update

# Sent after a merge or an undo commits: `merge` (a CustomerMerge), `undone` (bool), and
# `conversation_ids`-like consumers read `merge.moved`. Receivers in other apps publish their
# own live events (customers imports no other app).
customers_merged = Signal()

# In a merge log's `fields`: the kept customer's language and its source before the merge.
LANGUAGE_BEFORE = "language_before"


def _relations() -> list[models.ForeignKey]:
    """Every concrete foreign key (or one-to-one) that points at Customer, hidden ones (an
    auto-created many-to-many table, `related_name="+"`) included; the merge log's own keys
    excluded."""
    found = []
    for rel in Customer._meta.get_fields(include_hidden=True):
        if not rel.auto_created or rel.concrete:
            continue
        if not (rel.one_to_many or rel.one_to_one):
            continue
        field = rel.field
        if field.model is CustomerMerge:
            continue
        found.append(field)
    return found


def _label(field: models.Field) -> str:
    return f"{field.model._meta.label}.{field.name}"


def _field_by_label(label: str) -> models.ForeignKey | None:
    for field in _relations():
        if _label(field) == label:
            return field
    return None


@transaction.atomic
def customer_merge(
    *, source: Customer, target: Customer, actor: Any = None, reason: str = ""
) -> CustomerMerge:
    """Move everything of `source` (conversations, identities, orders, loyalty…) to `target`.

    Refused (ValidationError, nothing changed) for the same customer, for a source already
    merged away, for two back-office ids that differ, and when a one-to-one row (a loyalty
    account) exists on both sides. Sends `customers_merged` after commit.
    """
    if source.pk == target.pk:
        raise ValidationError(_("A customer cannot be merged into itself."))
    # Both rows locked, in id order so two merges of the same pair cannot deadlock.
    locked = {
        c.pk: c
        for c in Customer.objects.select_for_update()
        .filter(pk__in=[source.pk, target.pk])
        .order_by("pk")
    }
    if len(locked) != 2:
        raise ValidationError(_("One of the customers no longer exists."))
    source, target = locked[source.pk], locked[target.pk]
    if CustomerMerge.objects.filter(source=source, undone_at__isnull=True).exists():
        raise ValidationError(_("This customer was already merged into another one."))
    if CustomerMerge.objects.filter(source=target, undone_at__isnull=True).exists():
        raise ValidationError(_("The customer to keep was itself merged away; pick the other."))

    copied = _copy_blank_fields(source, target)
    moved: dict[str, list[Any]] = {}
    for field in _relations():
        rows = field.model._base_manager.filter(**{field.name: source.pk})
        ids = list(rows.values_list("pk", flat=True))
        if not ids:
            continue
        if field.one_to_one and field.model._base_manager.filter(**{field.name: target.pk}):
            raise ValidationError(
                _("Both customers have a %(what)s; resolve that before merging.")
                % {"what": field.model._meta.verbose_name}
            )
        try:
            with transaction.atomic():
                field.model._base_manager.filter(pk__in=ids).update(**{field.name: target.pk})
        except IntegrityError:
            raise ValidationError(
                _("Their %(what)s cannot be combined automatically; resolve that first.")
                % {"what": field.model._meta.verbose_name_plural}
            ) from None
        moved[_label(field)] = ids
    merge = CustomerMerge.objects.create(
        source=source, target=target, moved=moved, fields=copied, reason=reason[:200], actor=actor
    )
    after_commit(
        customers_merged.send,
        sender=CustomerMerge,
        merge=merge,
        undone=False,
        name="customers-merged",
    )
    return merge


def _copy_blank_fields(source: Customer, target: Customer) -> dict[str, Any]:
    """Names and the back-office id fill in what the kept customer lacks; the language is the
    higher-ranked of the two (customers.languages). The log remembers what was copied (and
    the language it replaced) so an undo can put it back."""
    copied: dict[str, Any] = {}
    source_ext = getattr(source, "external_id", None)
    target_ext = getattr(target, "external_id", None)
    if source_ext and target_ext and source_ext != target_ext:
        raise ValidationError(
            _("The customers have different back-office ids (%(a)s, %(b)s): they are two people.")
            % {"a": source_ext, "b": target_ext}
        )
    for name in ("first_name", "last_name", "external_id"):
        if not hasattr(target, name):
            continue
        if getattr(source, name) and not getattr(target, name):
            copied[name] = getattr(source, name)
    if source.language and (not target.language or source.language_source > target.language_source):
        # Filling a blank or strictly firmer: between equals the kept customer's stays.
        copied["language"] = source.language
        copied["language_source"] = source.language_source
        copied[LANGUAGE_BEFORE] = [target.language, target.language_source]
    if "external_id" in copied:
        # Unique: it leaves the source before it arrives on the target.
        Customer.objects.filter(pk=source.pk).update(external_id=None)
    written = {name: value for name, value in copied.items() if name != LANGUAGE_BEFORE}
    if written:
        Customer.objects.filter(pk=target.pk).update(**written)
        for name, value in written.items():
            setattr(target, name, value)
    return copied


@transaction.atomic
def customer_unmerge(*, merge: CustomerMerge, actor: Any = None) -> CustomerMerge:
    """Undo a merge from its log: the rows it moved that still belong to the kept customer go
    back; fields it copied are cleared again. Rows added since stay with the kept customer."""
    merge = CustomerMerge.objects.select_for_update().get(pk=merge.pk)
    if merge.undone_at is not None:
        raise ValidationError(_("This merge was already undone."))
    list(
        Customer.objects.select_for_update()
        .filter(pk__in=[merge.source_id, merge.target_id])
        .order_by("pk")
    )
    later = (
        CustomerMerge.objects.filter(source_id=merge.target_id, undone_at__isnull=True)
        .exclude(pk=merge.pk)
        .first()
    )
    if later is not None:
        # The kept customer was itself merged on: its rows are elsewhere now. Undoing this
        # one first would move nothing back and say it did.
        raise ValidationError(
            _("Undo the later merge #%(later)d first: customer #%(target)d was merged on since.")
            % {"later": later.pk, "target": merge.target_id}
        )
    for label, ids in merge.moved.items():
        field = _field_by_label(label)
        if field is None:
            continue
        astray = (
            field.model._base_manager.filter(pk__in=ids)
            .exclude(**{field.name: merge.target_id})
            .exclude(**{field.name: merge.source_id})
            .exists()
        )
        if astray:
            raise ValidationError(
                _(
                    "Some %(what)s this merge moved now belong to another customer; undo the "
                    "merges that moved them first."
                )
                % {"what": field.model._meta.verbose_name_plural}
            )
    for label, ids in merge.moved.items():
        field = _field_by_label(label)
        if field is None:  # the table is gone: nothing of it to put back
            continue
        field.model._base_manager.filter(pk__in=ids, **{field.name: merge.target_id}).update(
            **{field.name: merge.source_id}
        )
    if merge.fields:
        target = Customer.objects.get(pk=merge.target_id)
        cleared = {
            name: (None if name == "external_id" else "")
            for name, value in merge.fields.items()
            if name in ("first_name", "last_name", "external_id")
            and getattr(target, name, None) == value
        }
        # (A log from before the ranking has no `language_source`: the language alone.)
        if "language" in merge.fields and (target.language, target.language_source) == (
            merge.fields["language"],
            merge.fields.get("language_source", target.language_source),
        ):
            # Unchanged since the merge: the kept customer's own language comes back.
            before = merge.fields.get(LANGUAGE_BEFORE) or ["", LanguageSource.HINT]
            cleared["language"], cleared["language_source"] = before[0], before[1]
        if cleared:
            Customer.objects.filter(pk=merge.target_id).update(**cleared)
        if merge.fields.get("external_id") and "external_id" in cleared:
            Customer.objects.filter(pk=merge.source_id).update(
                external_id=merge.fields["external_id"]
            )
    model_update(merge, undone_at=timezone.now(), undone_by=actor)
    after_commit(
        customers_merged.send,
        sender=CustomerMerge,
        merge=merge,
        undone=True,
        name="customers-merged",
    )
    return merge


def identity_owner(kind: str, value: str) -> Customer | None:
    value = identity_normalise(kind, value)
    if not value:
        return None
    found = Identity.objects.select_related("customer").filter(kind=kind, value=value).first()
    return found.customer if found else None


@transaction.atomic
def customer_link_verified(
    *,
    customer: Customer,
    identities: Iterable[tuple[str, str]],
    first_name: str = "",
    last_name: str = "",
) -> Customer:
    """Attach verified identities to `customer` (e.g. the anonymous widget visitor who just
    signed in on the host site). An identity that already belongs to another customer means
    that customer *is* this person: `customer` is merged into it and it is returned.

    The first identity that names a customer decides; others owned by a third customer are
    left alone (an admin can merge them) — two existing records are never
    merged automatically.
    """
    pairs = []
    for kind, value in identities:
        if kind not in Identity.Kind.values:
            raise ValidationError(_("Unknown identity kind: %(kind)s") % {"kind": kind})
        normalised = identity_normalise(kind, value)
        if not normalised:
            raise ValidationError(
                _("This is not a valid %(kind)s.") % {"kind": Identity.Kind(kind).label}
            )
        pairs.append((kind, normalised))
    owner: Customer | None = None
    for kind, value in pairs:
        owner = identity_owner(kind, value)
        if owner is not None:
            break
    if owner is not None and owner.pk != customer.pk:
        # The fresher record joins the one the proof names.
        customer_merge(source=customer, target=owner, reason="verified identity")
        customer = Customer.objects.get(pk=owner.pk)
    for kind, value in pairs:
        existing = Identity.objects.filter(kind=kind, value=value).first()
        if existing is None:
            try:
                with transaction.atomic():
                    Identity.objects.create(
                        customer=customer, kind=kind, value=value, verified=True
                    )
            except IntegrityError:
                continue  # claimed at this very moment by someone else's identify: left alone
        elif existing.customer_id == customer.pk and not existing.verified:
            Identity.objects.filter(pk=existing.pk).update(verified=True)
    customer_fill_blank_names(customer, first_name=first_name, last_name=last_name)
    return customer


def customer_identify_verified(
    *, identities: list[tuple[str, str]], first_name: str = "", last_name: str = ""
) -> Customer:
    """The customer named by a list of verified identities (the app's signed identify): the
    owner of the first one that is known, else a new customer; the rest are linked."""
    if not identities:
        raise ValidationError(_("At least one identity is needed."))
    with transaction.atomic():
        for kind, value in identities:
            owner = identity_owner(kind, value)
            if owner is not None:
                break
        else:
            kind, value = identities[0]
            owner = customer_identify(
                kind=kind, value=value, first_name=first_name, last_name=last_name, verified=True
            )
        return customer_link_verified(
            customer=owner, identities=identities, first_name=first_name, last_name=last_name
        )


@transaction.atomic
def identity_set_reachable(*, kind: str, value: str, reachable: bool) -> bool:
    """Record that a channel can (or no longer can) reach this identity — a customer who
    blocked the bot. Returns True if that changed anything."""
    value = identity_normalise(kind, value)
    qs = Identity.objects.filter(kind=kind, value=value)
    if reachable:
        return bool(qs.filter(unreachable_at__isnull=False).update(unreachable_at=None))
    return bool(qs.filter(unreachable_at__isnull=True).update(unreachable_at=timezone.now()))


def customer_current(customer_id: int) -> Customer | None:
    """The customer a (possibly merged-away) id stands for now: merges are followed to the
    kept customer, so a token or a link issued before a merge keeps working."""
    seen: set[int] = set()
    while customer_id not in seen:
        seen.add(customer_id)
        target = (
            CustomerMerge.objects.filter(source_id=customer_id, undone_at__isnull=True)
            .values_list("target_id", flat=True)
            .first()
        )
        if target is None:
            return Customer.objects.filter(pk=customer_id).first()
        customer_id = target
    return None
