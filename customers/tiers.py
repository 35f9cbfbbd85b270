"""The loyalty tiers the product ships (`customers.demo.TIERS`, the names `make run` seeds)
shown in the viewer's language. A tier or perk text an admin typed differently is shown as
typed: only the shipped English text is replaced by its translation."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.translation import pgettext_lazy

if TYPE_CHECKING:
    from customers.models import LoyaltyTier

NAMES = {
    "Bronze": pgettext_lazy("loyalty tier", "Bronze"),
    "Silver": pgettext_lazy("loyalty tier", "Silver"),
    "Gold": pgettext_lazy("loyalty tier", "Gold"),
}
PERKS = {
    "Points on every order.": pgettext_lazy("loyalty perks", "Points on every order."),
    "Free delivery on weekends.": pgettext_lazy("loyalty perks", "Free delivery on weekends."),
    "Free delivery, a dessert on your birthday, priority support.": pgettext_lazy(
        "loyalty perks", "Free delivery, a dessert on your birthday, priority support."
    ),
}


def tier_name(tier: LoyaltyTier | None) -> str:
    if tier is None:
        return ""
    shipped = NAMES.get(tier.name)
    return str(shipped) if shipped is not None else tier.name


def tier_perks(tier: LoyaltyTier | None) -> str:
    if tier is None:
        return ""
    shipped = PERKS.get(tier.perks.strip())
    return str(shipped) if shipped is not None else tier.perks
