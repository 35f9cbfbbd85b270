"""Many orders at once, each judged on its own: the bulk endpoint and `import_orders`."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from customers import orders
from customers.serializers import BulkOrderSerializer


def _row_errors(result: orders.UpsertResult, rows: list[Any]) -> list[dict[str, Any]]:
    return [
        {
            "index": index,
            "external_id": rows[index].get("external_id")
            if isinstance(rows[index], dict)
            else None,
            "errors": errors,
        }
        for index, errors in sorted(result.errors.items())
    ]


def bulk_upsert(rows: list[Any]) -> dict[str, Any]:
    """Validate each row with the single-order rules, store the valid ones, report the rest.
    Shared by the bulk endpoint and `manage.py import_orders`."""
    valid: list[tuple[int, dict[str, Any]]] = []
    invalid: dict[int, Any] = {}
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            invalid[index] = {"non_field_errors": [_("Each row must be an object.")]}
            continue
        serializer = BulkOrderSerializer(data=row)
        if serializer.is_valid():
            valid.append((index, serializer.validated_data))
        else:
            invalid[index] = serializer.errors
    result = orders.orders_upsert(rows=valid) if valid else orders.UpsertResult()
    result.errors.update(invalid)
    return {
        "created": result.created,
        "updated": result.updated,
        "rejected": len(result.errors),
        "errors": _row_errors(result, rows),
        "warnings": [
            {"index": i, "external_id": rows[i]["external_id"], "warnings": w}
            for i, w in sorted(result.warnings.items())
        ],
    }
