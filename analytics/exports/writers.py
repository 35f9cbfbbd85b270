"""The export files: CSV (streamed), XLSX (openpyxl, write-only) and Parquet (pyarrow, in
record batches of `BATCH` rows), all through `write_file`, in constant memory.

The spreadsheet formats (CSV, XLSX) go through `spreadsheet_text`: a text that a spreadsheet
would run as a formula is prefixed with `'`, and XLSX cells holding text are written as text
cells, never as formulas. Parquet is typed columnar data for BI tools, not a spreadsheet: raw
text.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, tzinfo
from typing import IO, Any

from django.utils import timezone

from analytics.exports.dataset import Column
from analytics.exports.published import output_columns, published_values

BATCH = 10_000
FORMATS = ("csv", "xlsx", "parquet")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "parquet": "application/vnd.apache.parquet",
}

# What makes a spreadsheet read a cell as a formula (OWASP "CSV injection"), full-width forms
# included; and the control characters an XLSX cell cannot hold.
_FORMULA_START = frozenset("=+-@\uff1d\uff0b\uff0d\uff20")
_CONTROL_START = frozenset("\t\r")
_NUMBER_LIKE = re.compile(r"[+-]?\d[\d ()./-]*")
_XLSX_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
# Texts openpyxl would not store as text on its own: "=…" (a formula), error names ("#N/A").
_XLSX_NOT_TEXT = frozenset(("#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A"))


def spreadsheet_text(text: str) -> str:
    """`text` as a spreadsheet must hold it: never something it runs.

    A text starting with a formula character (`= + - @`), a tab or a CR, leading blanks before
    them included, gets a `'` in front. A number or a phone number (`-12.5`, `+7 916 123-45-00`)
    calls nothing and is left as it is.
    """
    if not text:
        return text
    if text[0] in _CONTROL_START:
        return "'" + text
    head = text.lstrip()
    if head and head[0] in _FORMULA_START and not _NUMBER_LIKE.fullmatch(head):
        return "'" + text
    return text


def _cell_text(value: Any) -> str:
    """A published value as CSV text (spreadsheet-safe)."""
    if value is None:
        return ""
    if type(value) is str:
        return spreadsheet_text(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return str(value)


def _number_text(value: Any) -> str:
    if value is None:
        return ""
    return str(value) if type(value) in (int, float) else _cell_text(value)


def _utc_text(value: Any) -> str:
    return "" if value is None else value.isoformat()  # published: already UTC


def _text_of(column: Column) -> Callable[[Any], str]:
    """How a published column becomes CSV text (every string through `spreadsheet_text`)."""
    if column.type in ("int", "float"):
        return _number_text
    if column.type == "datetime":
        return _utc_text
    return _cell_text


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(
    columns: list[Column], rows: Iterable[dict[str, Any]], tz: tzinfo = UTC
) -> Iterator[str]:
    """The CSV file as lines, produced as the rows come: constant memory. `columns` and `rows`
    are a dataset's; they are published (`publish`) and made safe (`spreadsheet_text`) here."""
    writer = csv.writer(_Echo())
    published = output_columns(columns)
    texts = [_text_of(c) for c in published]
    yield "\ufeff" + writer.writerow([c.key for c in published])  # BOM: Excel reads UTF-8
    for values in published_values(columns, rows, tz):
        yield writer.writerow([text(v) for text, v in zip(texts, values, strict=True)])


def _xlsx_value(sheet: Any, value: Any) -> Any:
    if isinstance(value, str):
        text = spreadsheet_text(value)
        if _XLSX_ILLEGAL.search(text):
            text = _XLSX_ILLEGAL.sub("\ufffd", text)  # XLSX cannot hold them: not a failure
        if text[:1] == "=" or text in _XLSX_NOT_TEXT:
            # openpyxl would store it as a formula or an error: an explicit text cell (after
            # `spreadsheet_text` no "=" is left, this is the belt to its braces).
            from openpyxl.cell import WriteOnlyCell

            cell = WriteOnlyCell(sheet, value=text)
            cell.data_type = "s"
            return cell
        return text  # openpyxl stores any other str as a text cell (t="inlineStr")
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None)  # Excel has no zones: the _utc column
    return value


def write_xlsx(
    out: IO[bytes],
    columns: list[Column],
    rows: Iterable[dict[str, Any]],
    tick: Any = None,
    tz: tzinfo = UTC,
) -> int:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("data")
    sheet.append([_xlsx_value(sheet, c.key) for c in output_columns(columns)])
    n = 0
    for values in published_values(columns, rows, tz):
        sheet.append([_xlsx_value(sheet, v) for v in values])
        n += 1
        if tick is not None and n % BATCH == 0:
            tick(n)
    book.save(out)
    return n


def _arrow_type(kind: str) -> Any:
    import pyarrow as pa

    return {
        "int": pa.int64(),
        "float": pa.float64(),
        "str": pa.string(),
        "bool": pa.bool_(),
        "datetime": pa.timestamp("us", tz="UTC"),
    }[kind]


def write_parquet(
    out: IO[bytes],
    columns: list[Column],
    rows: Iterable[dict[str, Any]],
    tick: Any = None,
    tz: tzinfo = UTC,
) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    published = output_columns(columns)
    schema = pa.schema([(c.key, _arrow_type(c.type)) for c in published])
    n = 0
    with pq.ParquetWriter(out, schema) as writer:
        batch: dict[str, list[Any]] = {c.key: [] for c in published}
        size = 0
        for values in published_values(columns, rows, tz):
            for c, value in zip(published, values, strict=True):
                batch[c.key].append(value)
            size += 1
            if size == BATCH:
                writer.write_batch(pa.RecordBatch.from_pydict(batch, schema=schema))
                n += size
                batch, size = {c.key: [] for c in published}, 0
                if tick is not None:
                    tick(n)
        if size or n == 0:
            writer.write_batch(pa.RecordBatch.from_pydict(batch, schema=schema))
            n += size
    return n


def write_file(
    fmt: str,
    out: IO[bytes],
    columns: list[Column],
    rows: Iterable[dict[str, Any]],
    tick: Any = None,
    tz: tzinfo = UTC,
) -> int:
    """The one path every export file takes (the download API and the background jobs):
    `columns`/`rows` of a dataset in, the published, spreadsheet-safe file out."""
    if fmt == "csv":
        n = -1
        for n, line in enumerate(csv_lines(columns, rows, tz)):
            out.write(line.encode())
            if tick is not None and n and n % BATCH == 0:
                tick(n)
        return max(n, 0)
    if fmt == "xlsx":
        return write_xlsx(out, columns, rows, tick, tz)
    if fmt == "parquet":
        return write_parquet(out, columns, rows, tick, tz)
    raise ValueError(fmt)


def filename(dataset: str, fmt: str, now: datetime | None = None) -> str:
    now = now or timezone.now()
    return f"smartdesk-{dataset}-{now:%Y%m%d-%H%M%S}.{fmt}"
