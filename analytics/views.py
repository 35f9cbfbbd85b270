"""The statistics pages: the dashboard and export jobs (the wallboard: `wallboard_views`).
Thin: parse the period, ask the selectors, render."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from accounts.access import Capability, capability_required, has_capability, scope_of
from accounts.models import Role, Team
from analytics import exports, heatmap, selectors
from analytics.filters import check_day, check_span
from analytics.models import ExportJob
from chats.models import Inbox

PERIODS = ("today", "yesterday", "7d", "30d", "custom")
WEEKDAYS = (
    gettext_lazy("Mon"),
    gettext_lazy("Tue"),
    gettext_lazy("Wed"),
    gettext_lazy("Thu"),
    gettext_lazy("Fri"),
    gettext_lazy("Sat"),
    gettext_lazy("Sun"),
)


# The export datasets as the page names them (the file names keep `exports.DATASETS`' keys).
DATASET_LABELS = {
    "conversations": gettext_lazy("Conversations"),
    "events": gettext_lazy("Conversation events"),
    "messages": gettext_lazy("Messages"),
    "calls": gettext_lazy("Calls"),
    "hourly": gettext_lazy("Hourly figures"),
    "operators": gettext_lazy("Operators"),
}


def _day(value: str | None) -> date | None:
    """A `YYYY-MM-DD` from the period form, within the dates reports take."""
    try:
        day = parse_date(value or "")
    except ValueError:  # well-formed but no such day (2026-02-30)
        raise ValidationError(_("Not a date: %(v)s") % {"v": value}) from None
    if day is not None:
        check_day(day)
    return day


def _refused_period(request: HttpRequest, error: ValidationError) -> HttpResponse:
    """A period the dashboard cannot show: say why, compute nothing (400)."""
    return render(request, "analytics/period_refused.html", {"errors": error.messages}, status=400)


def _period(request: HttpRequest) -> tuple[selectors.Filters, dict[str, Any]]:
    """The dashboard's period and filters; ValidationError for a period out of bounds."""
    tz = selectors.viewer_tz(request.user)
    today = timezone.now().astimezone(tz).date()
    period = request.GET.get("period") or "7d"
    if period not in PERIODS:
        period = "7d"
    first, last = today - timedelta(days=6), today
    if period == "today":
        first = today
    elif period == "yesterday":
        first = last = today - timedelta(days=1)
    elif period == "30d":
        first = today - timedelta(days=29)
    elif period == "custom":
        first = _day(request.GET.get("from")) or first
        last = _day(request.GET.get("to")) or last
        if last < first:
            first, last = last, first
    start, end = selectors.local_day_bounds(first, last, tz)
    check_span(start, end)
    team_ids = None
    team = request.GET.get("team") or ""
    if team.isdigit():
        team_ids = (int(team),)
    channel = request.GET.get("channel") or ""
    channels = (channel,) if channel in Inbox.Kind.values else None
    filters = selectors.stat_scope(
        request.user,
        selectors.Filters(start=start, end=end, tz=tz, team_ids=team_ids, channels=channels),
    )
    form = {
        "period": period,
        "from": first.isoformat(),
        "to": last.isoformat(),
        "team": team,
        "channel": channel,
    }
    return filters, form


def _filter_teams(user: Any) -> Any:
    """The teams the period form offers: those the user's scope reports on."""
    scope = scope_of(user)
    if scope == Role.Scope.ALL:
        return Team.objects.order_by("name")
    if scope == Role.Scope.TEAMS:
        return Team.objects.filter(members__user_id=user.pk).order_by("name")
    return Team.objects.none()


@require_GET
@capability_required(Capability.VIEW_STATISTICS)
def dashboard(request: HttpRequest) -> HttpResponse:
    try:
        filters, form = _period(request)
    except ValidationError as error:
        return _refused_period(request, error)
    metric = request.GET.get("metric") or "concurrent"
    if metric not in heatmap.METRICS:
        metric = "concurrent"
    grid = heatmap.heatmap(filters, metric=metric)
    top = max((c.p90 for row in grid for c in row), default=0) or 0
    staffing = heatmap.staffing(filters)
    trend = selectors.trend(filters)
    context = {
        "filters": filters,
        "form": form,
        "periods": PERIODS,
        "teams": _filter_teams(request.user),
        "channels": Inbox.Kind.choices,
        "cards": selectors.kpi_cards(filters),
        "trend": trend,
        "chart_data": {
            "trend": trend,
            "heatmap": [[round(c.avg, 2) for c in row] for row in grid],
            "staffing": [
                {"needed": c.needed, "online": round(c.online, 2)} for c in staffing["cells"]
            ],
            "weekdays": [str(d) for d in WEEKDAYS],
        },
        "grid": list(zip(WEEKDAYS, grid, strict=True)),
        "grid_top": top,
        "metric": metric,
        "metrics": heatmap.METRICS,
        "staffing": staffing,
        "staffing_rows": [(WEEKDAYS[d], staffing["cells"][d * 24 : d * 24 + 24]) for d in range(7)],
        "hours": range(24),
        "operators": selectors.operator_table(filters),
        "can_export": has_capability(request.user, Capability.EXPORT_REPORTS),
        "datasets": [(ds, DATASET_LABELS.get(ds, ds)) for ds in sorted(exports.DATASETS)],
        "formats": exports.FORMATS,
        "query_string": request.GET.urlencode(),
        **_jobs_context(request.user),
    }
    return render(request, "analytics/dashboard.html", context)


def _export_allowed(request: HttpRequest) -> None:
    if not request.user.is_authenticated:
        raise PermissionDenied
    if not has_capability(request.user, Capability.EXPORT_REPORTS):
        raise Http404(_("Not found."))


def _jobs_context(user: Any) -> dict[str, Any]:
    """The user's latest export jobs, and whether the list should poll (one still runs)."""
    jobs = list(ExportJob.objects.filter(user=user)[:10])
    running = (ExportJob.Status.QUEUED, ExportJob.Status.RUNNING)
    return {"jobs": jobs, "jobs_running": any(j.status in running for j in jobs)}


def _jobs_fragment(request: HttpRequest) -> HttpResponse:
    return render(request, "analytics/_jobs.html", _jobs_context(request.user))


@require_POST
def export_start(request: HttpRequest) -> HttpResponse:
    """Start a background export (a Celery task after commit). From htmx: the jobs fragment,
    which polls while a job runs and links the file when it is ready; without JavaScript:
    back to the dashboard, which lists the jobs."""
    _export_allowed(request)
    dataset = request.POST.get("dataset") or ""
    fmt = request.POST.get("format") or ""
    if dataset not in exports.DATASETS or fmt not in exports.FORMATS:
        return HttpResponse(_("Choose a dataset and a format."), status=400)
    try:
        filters, _form = _period(request)
    except ValidationError as error:
        return HttpResponse(" ".join(error.messages), status=400)
    exports.export_job_create(
        user=request.user,
        dataset=dataset,
        fmt=fmt,
        query=exports.Query(
            start=filters.start,
            end=filters.end,
            team_ids=filters.team_ids,
            channels=filters.channels,
        ),
        tz=filters.tz,
    )
    if request.headers.get("HX-Request"):
        # The fragment itself, not the GET view (its require_GET answered this POST 405).
        return _jobs_fragment(request)
    query = request.GET.urlencode()
    return redirect(f"{reverse('statistics')}{'?' + query if query else ''}#export-title")


@require_GET
def export_jobs(request: HttpRequest) -> HttpResponse:
    _export_allowed(request)
    return _jobs_fragment(request)


@require_GET
def export_download(request: HttpRequest, pk: int) -> HttpResponse:
    """The file of one's own finished export; anybody else's does not exist."""
    _export_allowed(request)
    job = ExportJob.objects.filter(pk=pk, user=request.user).first()
    if job is None or job.status != ExportJob.Status.DONE or not job.file:
        raise Http404(_("The export is not ready."))
    try:
        handle = default_storage.open(job.file, "rb")
    except FileNotFoundError:
        raise Http404(_("The file is gone.")) from None
    return FileResponse(
        handle,
        as_attachment=True,
        filename=job.file.rsplit("/", 1)[-1],
        content_type=exports.CONTENT_TYPES[job.format],
    )
