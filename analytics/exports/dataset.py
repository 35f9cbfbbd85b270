"""What a dataset is: its published `Column`s and the `Dataset` base (a gated queryset of
`.values()` rows plus a function that turns one into the published columns), with the helpers
the datasets share. PII columns are present only for roles that `may_see_pii`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from accounts.access import Capability, has_capability
from analytics.exports.query import Query


@dataclass(frozen=True)
class Column:
    key: str
    type: str  # "int" | "float" | "str" | "datetime" | "bool"
    pii: bool = False
    digits: int = 2  # a "float" is published rounded to this many decimals


class Dataset:
    name: str = ""
    columns: tuple[Column, ...] = ()
    ordering: tuple[str, ...] = ("pk",)

    def visible_columns(self, pii: bool) -> list[Column]:
        return [c for c in self.columns if pii or not c.pii]

    def queryset(self, user: Any, query: Query, *, pii: bool) -> QuerySet | None:
        """`.values()` rows, or None for a computed dataset (then `rows` is overridden)."""
        raise NotImplementedError

    def row(self, values: dict[str, Any], pii: bool) -> dict[str, Any]:
        raise NotImplementedError

    def rows(self, user: Any, query: Query, *, pii: bool) -> Iterator[dict[str, Any]]:
        qs = self.queryset(user, query, pii=pii)
        if qs is None:
            return
        for values in qs.order_by(*self.ordering).iterator(chunk_size=2000):
            yield self.row(values, pii)

    def count(self, user: Any, query: Query) -> int | None:
        qs = self.queryset(user, query, pii=False)
        return qs.count() if qs is not None else None


def may_see_pii(user: Any) -> bool:
    return has_capability(user, Capability.VIEW_CUSTOMER_PII)


def person_name(first: str | None, last: str | None, username: str | None) -> str:
    return f"{first or ''} {last or ''}".strip() or (username or "")


def conversation_link(pk: int) -> str:
    return f"{settings.PUBLIC_BASE_URL}/inbox/c/{pk}/"
