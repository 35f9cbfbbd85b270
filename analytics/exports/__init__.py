"""Datasets for BI: the same rows for the reports API and the export files.

A dataset is a gated queryset of `.values()` rows plus a function that turns one into the
published columns. The API pages through it (cursor pagination); an export streams it with a
server-side cursor (`.iterator()`), so memory stays constant whatever the size: CSV is
streamed to the client as it is produced, XLSX is written by openpyxl in write-only mode,
Parquet by pyarrow in record batches of `BATCH` rows. There are no row caps.

PII columns (customer name, phone, e-mail) are present only for roles with
`view_customer_pii`; without it the columns are absent, not blanked.

Every dataset reads through its gate: `visible_conversations` (conversations, events,
messages), `telephony.selectors.visible_calls` (calls), `stat_scope` (the roll-ups: hourly,
operators). tests/analytics/test_export_gates.py removes none of them silently.

What leaves the building is shaped in one place, `publish` (files and the API alike):

- a `datetime` column `x` is published as `x_local` (ISO 8601 with the offset, in the time
  zone of the person who asked: their profile's) and `x_utc` (the instant, for BI);
- durations are whole seconds (`int` columns, rounded half up), percentages have one decimal,
  other figures (CSAT averages) two: a `float` column is rounded to its `digits`, so no
  unrounded float leaves;

and the spreadsheet formats (CSV, XLSX) go through one more step, `spreadsheet_text`: a text
that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, a tab or CR,
leading blanks before them included) is prefixed with `'`, and XLSX cells holding text are
written as text cells (`t="inlineStr"`), never as formulas. Numbers stay numbers; a text that
is only a number or a phone number (`+7 916 123-45-00`, `-12.5`) cannot call anything and is
left as it is. Parquet is typed columnar data for BI tools, not a spreadsheet: raw text.

The package, by what each module holds: `query` (`Query` and the one filter pipeline every
dataset applies it with), `dataset` (`Column`, the `Dataset` base), `datasets/` (one module per
dataset, and `DATASETS`), `published` (the published shape, `publish`), `writers` (CSV, XLSX,
Parquet and `spreadsheet_text`), `jobs` (background export jobs).
"""

from __future__ import annotations

from analytics.exports.dataset import (
    Column,
    Dataset,
    conversation_link,
    may_see_pii,
    person_name,
)
from analytics.exports.datasets import (
    DATASETS,
    Calls,
    Conversations,
    Events,
    Hourly,
    Messages,
    Operators,
)
from analytics.exports.jobs import export_job_create, export_job_run
from analytics.exports.published import (
    export_tz,
    output_columns,
    publish,
    publish_row,
    published_values,
    whole,
)
from analytics.exports.query import Query, query_filter, roll_up_scope
from analytics.exports.writers import (
    BATCH,
    CONTENT_TYPES,
    FORMATS,
    csv_lines,
    filename,
    spreadsheet_text,
    write_file,
    write_parquet,
    write_xlsx,
)

__all__ = [
    "BATCH",
    "CONTENT_TYPES",
    "DATASETS",
    "FORMATS",
    "Calls",
    "Column",
    "Conversations",
    "Dataset",
    "Events",
    "Hourly",
    "Messages",
    "Operators",
    "Query",
    "conversation_link",
    "csv_lines",
    "export_job_create",
    "export_job_run",
    "export_tz",
    "filename",
    "may_see_pii",
    "output_columns",
    "person_name",
    "publish",
    "publish_row",
    "published_values",
    "query_filter",
    "roll_up_scope",
    "spreadsheet_text",
    "whole",
    "write_file",
    "write_parquet",
    "write_xlsx",
]
