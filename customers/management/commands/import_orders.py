"""`python manage.py import_orders FILE.csv`: stream a CRM export of orders into Smartdesk.

One line per order item; consecutive lines with the same `order_id` are one order. Columns:

    order_id, customer_id, first_name, last_name, phone, email, placed_at, status,
    status_changed_at, total, currency, channel, address,
    sku, item_name, quantity, price, modifiers, allergens

(`modifiers` and `allergens` separated by `|`; an order line without `sku` has no items.)
The file is read as a stream, 1,000 orders at a time, through the same validation and the
same upsert as the bulk API: importing the same file again changes nothing and accrues no
points twice. Valid orders are stored; each rejected one is reported with its lines and
reasons at the end (all of them into `--rejected FILE` as CSV).
"""

from __future__ import annotations

import csv
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from django.core.management.base import BaseCommand, CommandError, CommandParser

from customers.bulk import bulk_upsert
from customers.orders import MAX_BULK

REQUIRED = {"order_id", "customer_id", "placed_at", "total", "currency"}
SHOWN_REJECTIONS = 50


class _Counting:
    """Lines of a binary file as text, counting the bytes read (for the progress bar)."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.read = 0

    def __iter__(self) -> Iterator[str]:
        for raw in self.stream:
            self.read += len(raw)
            yield raw.decode("utf-8-sig" if self.read == len(raw) else "utf-8")


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split("|") if part.strip()]


def _order(first: dict[str, str]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "external_id": first["order_id"].strip(),
        "customer": {
            "external_id": (first.get("customer_id") or "").strip(),
            "first_name": (first.get("first_name") or "").strip(),
            "last_name": (first.get("last_name") or "").strip(),
            "phone": (first.get("phone") or "").strip(),
            "email": (first.get("email") or "").strip(),
        },
        "placed_at": first.get("placed_at"),
        "total": first.get("total"),
        "currency": (first.get("currency") or "").strip().upper(),
        "channel": (first.get("channel") or "").strip(),
        "address": (first.get("address") or "").strip(),
        "items": [],
    }
    for key in ("status", "status_changed_at"):
        if (first.get(key) or "").strip():
            row[key] = first[key].strip()
    return row


def _item(line: dict[str, str]) -> dict[str, Any] | None:
    if not (line.get("sku") or "").strip():
        return None
    item: dict[str, Any] = {
        "sku": line["sku"].strip(),
        "name": (line.get("item_name") or "").strip(),
        "quantity": (line.get("quantity") or "1").strip(),
        "price": (line.get("price") or "").strip(),
        "modifiers": _split(line.get("modifiers")),
    }
    if (line.get("allergens") or "").strip():
        item["allergens"] = _split(line.get("allergens"))
    return item


class Command(BaseCommand):
    help = "Import orders from a CRM export (CSV, one line per item), streaming."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--delimiter", default=",")
        parser.add_argument(
            "--batch", type=int, default=MAX_BULK, help=f"Orders per batch (at most {MAX_BULK})."
        )
        parser.add_argument("--rejected", type=Path, help="Write every rejected order here (CSV).")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        self.batch_size = max(1, min(options["batch"], MAX_BULK))
        self.progress = not options["no_progress"]
        self.total_bytes = path.stat().st_size or 1
        self.created = self.updated = 0
        self.rejected: list[tuple[str, str, str]] = []  # lines, order id, reasons
        self.orders_seen = 0
        self._last_draw = 0.0
        with path.open("rb") as stream:
            self.source = _Counting(stream)
            reader = csv.DictReader(self.source, delimiter=options["delimiter"])
            missing = REQUIRED - set(reader.fieldnames or [])
            if missing:
                raise CommandError(
                    "The file has no column "
                    + ", ".join(sorted(missing))
                    + f". Columns found: {', '.join(reader.fieldnames or []) or 'none'}."
                )
            self._run(reader)
        self._draw(final=True)
        self._summary(options.get("rejected"))

    def _run(self, reader: csv.DictReader) -> None:
        batch: list[dict[str, Any]] = []
        lines: list[str] = []
        current: dict[str, Any] | None = None
        first_line = last_line = 0
        for line in reader:
            number = reader.line_num
            order_id = (line.get("order_id") or "").strip()
            if current is None or order_id != current["external_id"] or not order_id:
                if current is not None:
                    batch.append(current)
                    lines.append(self._span(first_line, last_line))
                    if len(batch) >= self.batch_size:
                        self._flush(batch, lines)
                        batch, lines = [], []
                current = _order(line)
                first_line = number
            item = _item(line)
            if item is not None:
                current["items"].append(item)
            last_line = number
        if current is not None:
            batch.append(current)
            lines.append(self._span(first_line, last_line))
        if batch:
            self._flush(batch, lines)

    @staticmethod
    def _span(first: int, last: int) -> str:
        return str(first) if first == last else f"{first}-{last}"

    def _flush(self, batch: list[dict[str, Any]], lines: list[str]) -> None:
        result = bulk_upsert(batch)
        self.created += result["created"]
        self.updated += result["updated"]
        self.orders_seen += len(batch)
        for error in result["errors"]:
            reasons = "; ".join(
                f"{field}: {_flatten(messages)}" for field, messages in error["errors"].items()
            )
            self.rejected.append((lines[error["index"]], str(error["external_id"] or ""), reasons))
        self._draw()

    def _draw(self, *, final: bool = False) -> None:
        if not self.progress:
            return
        now = time.monotonic()
        if not final and now - self._last_draw < 0.2:
            return
        self._last_draw = now
        share = min(1.0, self.source.read / self.total_bytes)
        width = 30
        bar = "#" * int(share * width)
        self.stderr.write(
            f"\r[{bar:<{width}}] {share:4.0%}  {self.orders_seen:,} orders, "
            f"{len(self.rejected):,} rejected",
            ending="\n" if final else "",
        )
        self.stderr.flush()

    def _summary(self, rejected_path: Path | None) -> None:
        self.stdout.write(
            f"Orders: {self.created:,} created, {self.updated:,} updated, "
            f"{len(self.rejected):,} rejected."
        )
        if not self.rejected:
            return
        self.stdout.write("Rejected (CSV line, order id: reasons):")
        for span, order_id, reasons in self.rejected[:SHOWN_REJECTIONS]:
            self.stdout.write(f"  line {span}, {order_id or '(no id)'}: {reasons}")
        if len(self.rejected) > SHOWN_REJECTIONS:
            self.stdout.write(f"  … and {len(self.rejected) - SHOWN_REJECTIONS:,} more.")
        if rejected_path is not None:
            with rejected_path.open("w", newline="") as out:
                writer = csv.writer(out)
                writer.writerow(["lines", "order_id", "reasons"])
                writer.writerows(self.rejected)
            self.stdout.write(f"All rejected orders: {rejected_path}")


def _flatten(messages: Any) -> str:
    if isinstance(messages, dict):
        return "; ".join(f"{k}: {_flatten(v)}" for k, v in messages.items())
    if isinstance(messages, list):
        return " ".join(_flatten(m) for m in messages if m)
    return str(messages)
