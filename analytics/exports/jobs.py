"""Background export jobs: `export_job_create` queues one (the task starts after commit),
`export_job_run` builds its file (run by `analytics.tasks.run_export`)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from django.core.files import File
from django.core.files.storage import default_storage
from django.utils import timezone

from accounts.access import Capability, has_capability
from analytics.exports.dataset import may_see_pii
from analytics.exports.datasets import DATASETS
from analytics.exports.published import export_tz
from analytics.exports.query import Query
from analytics.exports.writers import filename, write_file
from analytics.models import ExportJob
from smartdesk.core.oncommit import after_commit


def export_job_create(
    *, user: Any, dataset: str, fmt: str, query: Query, tz: tzinfo | None = None
) -> ExportJob:
    """Queue an export; the task starts after commit. The local-time columns are in `tz`
    (default: the user's time zone now), kept with the filters."""

    from analytics.tasks import run_export

    job = ExportJob.objects.create(
        user=user,
        dataset=dataset,
        format=fmt,
        filters={**query.as_json(), "time_zone": str(tz or export_tz(user))},
        with_pii=may_see_pii(user),
    )
    after_commit(run_export.delay, job.pk, name="run-export")
    return job


def export_job_run(*, job_id: int, progress: Callable[[int], None] | None = None) -> str:
    """Build the file. Claimed with a conditional UPDATE (queued -> running): a task run twice
    builds it once. Progress is written every BATCH rows."""
    claimed = ExportJob.objects.filter(pk=job_id, status=ExportJob.Status.QUEUED).update(
        status=ExportJob.Status.RUNNING
    )
    if claimed != 1:
        return "not queued"
    job = ExportJob.objects.select_related("user").get(pk=job_id)
    dataset = DATASETS[job.dataset]
    query = Query.from_json(job.filters)
    # The capability is checked again: a role changed since the request loses the file.
    pii = job.with_pii and may_see_pii(job.user)
    if not has_capability(job.user, Capability.EXPORT_REPORTS):
        ExportJob.objects.filter(pk=job_id).update(
            status=ExportJob.Status.FAILED, error="no longer allowed", finished_at=timezone.now()
        )
        return "refused"
    try:
        tz: tzinfo = ZoneInfo(job.filters.get("time_zone") or "")
    except (ValueError, KeyError):  # an old job (no zone kept) or a zone since removed
        tz = export_tz(job.user)
    total = dataset.count(job.user, query)
    ExportJob.objects.filter(pk=job_id).update(rows_total=total)

    def tick(n: int) -> None:
        ExportJob.objects.filter(pk=job_id).update(rows_done=n)
        if progress is not None:
            progress(n)

    try:
        with tempfile.TemporaryFile() as out:
            n = write_file(
                job.format,
                out,
                dataset.visible_columns(pii),
                dataset.rows(job.user, query, pii=pii),
                tick,
                tz,
            )
            out.seek(0)
            name = default_storage.save(
                f"exports/{job.pk}/{filename(job.dataset, job.format)}", File(out)
            )
    except Exception as problem:
        ExportJob.objects.filter(pk=job_id).update(
            status=ExportJob.Status.FAILED,
            error=str(problem)[:500],
            finished_at=timezone.now(),
        )
        raise
    ExportJob.objects.filter(pk=job_id).update(
        status=ExportJob.Status.DONE,
        rows_done=n,
        rows_total=n,
        file=name,
        finished_at=timezone.now(),
    )
    return "done"
