"""`/api/v1/reports/…`: the BI API. Same rows as the export files (`analytics.exports`).

- `GET reports/<dataset>/` — conversations, events, messages, calls, hourly (cursor
  pagination), operators (one page); filters `from`, `to`, `team`, `channel`, `operator`,
  `updated_since` (`analytics.filters.ReportFilter`). Needs *export reports*; without it: 404.
- `GET reports/<dataset>.<csv|xlsx|parquet>` — the whole dataset as a file (CSV streamed).
- `POST reports/exports/` → a background export job; `GET reports/exports/<id>/` its
  progress; `GET reports/exports/<id>/download/` the file.
- `GET reports/kpis/`, `reports/heatmap/`, `reports/staffing/` — the dashboard's figures
  (needs *view statistics*).
"""

from __future__ import annotations

import tempfile
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django_filters.utils import translate_validation
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import Capability, api_capability, has_capability
from accounts.models import Team
from analytics import exports, heatmap, selectors
from analytics.filters import CHANNELS, ReportFilter, check_span
from analytics.kpis import CallTotals, ChatTotals
from analytics.models import ExportJob
from chats.api.base import ApiMixin, StrictPageSize, parse

# What the filters accept, as the schema says it (the schemathesis tests hold the API to it).
# Calendar ranges (month 01-12, day 01-31, hour 00-23): what a pattern can say. An impossible
# day (02-30) and a period longer than `REPORT_MAX_DAYS` are a 400 the schema cannot express.
# Empty is the same as absent.
_DATE_OR_DATETIME = (
    r"^(\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
    r"(T([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?)?)?$"
)
# Any integer: an id that names nothing matches nothing.
_IDS = {"type": "array", "items": {"type": "integer"}}
PERIOD_PARAMS = [
    OpenApiParameter(
        "from",
        str,
        pattern=_DATE_OR_DATETIME,
        description="Start: a date (local midnight) or ISO datetime.",
    ),
    OpenApiParameter(
        "to",
        str,
        pattern=_DATE_OR_DATETIME,
        description="End: a date (inclusive) or ISO datetime (exclusive).",
    ),
    OpenApiParameter("team", _IDS, description="Team ids (repeat or comma-separate)."),
    OpenApiParameter(
        "channel",
        str,
        many=True,
        enum=list(CHANNELS),
        description="widget, telegram, mobile, api, phone.",
    ),
    OpenApiParameter("operator", _IDS, description="Operator ids (repeat or comma-separate)."),
    OpenApiParameter(
        "updated_since",
        str,
        pattern=_DATE_OR_DATETIME,
        description="Incremental pull: changed since (ISO).",
    ),
]


class ExportAllowed(BasePermission):
    """Without the export capability the reports do not exist for the caller: 404."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if not has_capability(request.user, Capability.EXPORT_REPORTS):
            raise exceptions.NotFound(_("Not found."))
        return True


def report_query(request: Request) -> tuple[exports.Query, ZoneInfo]:
    """The reports' filters (`analytics.filters.ReportFilter`) from the query string and, for
    a POST, its body; a 400 naming each bad field."""
    tz = selectors.viewer_tz(request.user)
    params = request.query_params
    if request.method != "GET":  # the body's filters, over any in the query string
        params = params.copy()
        body = request.data.lists() if hasattr(request.data, "lists") else request.data.items()
        for name, value in body:
            values = value if isinstance(value, list | tuple) else [value]
            params.setlist(name, [str(v) for v in values if v is not None])
    filterset = ReportFilter(params, request=request, tz=tz)
    if not filterset.is_valid():
        raise translate_validation(filterset.errors)
    return filterset.query(), tz


class ReportPagination(StrictPageSize, CursorPagination):
    page_size = 500
    page_size_query_param = "page_size"
    max_page_size = 5000


class DatasetView(ApiMixin, APIView):
    permission_classes = [IsAuthenticated, ExportAllowed]
    dataset_name = ""

    @extend_schema(parameters=PERIOD_PARAMS, tags=["reports"], responses={200: dict})
    def get(self, request: Request) -> Response:
        dataset = exports.DATASETS[self.dataset_name]
        query, tz = report_query(request)
        pii = exports.may_see_pii(request.user)
        columns = dataset.visible_columns(pii)
        qs = dataset.queryset(request.user, query, pii=pii)
        if qs is None:
            rows = list(exports.publish(columns, dataset.rows(request.user, query, pii=pii), tz))
            return Response({"next": None, "previous": None, "results": _json_rows(rows)})
        paginator = ReportPagination()
        paginator.ordering = dataset.ordering
        page = paginator.paginate_queryset(qs, request, view=self)
        rows = list(exports.publish(columns, (dataset.row(v, pii) for v in page), tz))
        return paginator.get_paginated_response(_json_rows(rows))


def _json_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}
        for row in rows
    ]


def dataset_view(name: str) -> Any:
    return type(f"{name.title()}Report", (DatasetView,), {"dataset_name": name}).as_view()


class DownloadView(ApiMixin, APIView):
    """The whole dataset as one file. CSV is streamed row by row; XLSX and Parquet are built
    in a temporary file (constant memory) and then sent."""

    permission_classes = [IsAuthenticated, ExportAllowed]

    @extend_schema(parameters=PERIOD_PARAMS, tags=["reports"], responses={200: bytes})
    def get(self, request: Request, dataset: str, fmt: str) -> Any:
        if dataset not in exports.DATASETS or fmt not in exports.FORMATS:
            raise exceptions.NotFound(_("No such report."))
        query, tz = report_query(request)
        pii = exports.may_see_pii(request.user)
        ds = exports.DATASETS[dataset]
        columns = ds.visible_columns(pii)
        rows = ds.rows(request.user, query, pii=pii)
        name = exports.filename(dataset, fmt)
        if fmt == "csv":
            response = StreamingHttpResponse(
                exports.csv_lines(columns, rows, tz), content_type=exports.CONTENT_TYPES["csv"]
            )
        else:
            out = tempfile.TemporaryFile()  # noqa: SIM115 - FileResponse closes it
            exports.write_file(fmt, out, columns, rows, tz=tz)
            out.seek(0)
            response = FileResponse(out, content_type=exports.CONTENT_TYPES[fmt])
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response


class ExportRequestSerializer(serializers.Serializer):
    dataset = serializers.ChoiceField(choices=sorted(exports.DATASETS))
    format = serializers.ChoiceField(choices=exports.FORMATS)


def job_data(job: ExportJob) -> dict[str, Any]:
    return {
        "id": job.pk,
        "dataset": job.dataset,
        "format": job.format,
        "status": job.status,
        "rows_done": job.rows_done,
        "rows_total": job.rows_total,
        "progress_percent": job.progress_percent,
        "error": job.error,
        "created_at": job.created_at.isoformat(),
        "download": (
            f"/api/v1/reports/exports/{job.pk}/download/"
            if job.status == ExportJob.Status.DONE
            else None
        ),
    }


class ExportJobsView(ApiMixin, APIView):
    permission_classes = [IsAuthenticated, ExportAllowed]

    @extend_schema(tags=["reports"], responses={200: dict}, operation_id="reports_exports_list")
    def get(self, request: Request) -> Response:
        jobs = ExportJob.objects.filter(user=request.user)[:50]
        return Response({"results": [job_data(j) for j in jobs]})

    @extend_schema(
        tags=["reports"],
        request=ExportRequestSerializer,
        parameters=PERIOD_PARAMS,
        responses={202: dict},
    )
    def post(self, request: Request) -> Response:
        data = parse(ExportRequestSerializer, request.data)
        query, _tz = report_query(request)
        job = exports.export_job_create(
            user=request.user, dataset=data["dataset"], fmt=data["format"], query=query
        )
        return Response(job_data(job), status=status.HTTP_202_ACCEPTED)


def _own_job(request: Request, pk: int) -> ExportJob:
    job = ExportJob.objects.filter(pk=pk, user=request.user).first()
    if job is None:
        raise exceptions.NotFound(_("No such export."))
    return job


class ExportJobView(ApiMixin, APIView):
    permission_classes = [IsAuthenticated, ExportAllowed]

    @extend_schema(tags=["reports"], responses={200: dict})
    def get(self, request: Request, pk: int) -> Response:
        return Response(job_data(_own_job(request, pk)))


class ExportDownloadView(ApiMixin, APIView):
    permission_classes = [IsAuthenticated, ExportAllowed]

    @extend_schema(tags=["reports"], responses={200: bytes})
    def get(self, request: Request, pk: int) -> Any:
        job = _own_job(request, pk)
        if job.status != ExportJob.Status.DONE or not job.file:
            raise exceptions.NotFound(_("The export is not ready."))
        try:
            handle = default_storage.open(job.file, "rb")
        except FileNotFoundError:
            raise Http404(_("The file is gone.")) from None
        response = FileResponse(handle, content_type=exports.CONTENT_TYPES[job.format])
        response["Content-Disposition"] = f'attachment; filename="{job.file.rsplit("/", 1)[-1]}"'
        return response


# --- dashboard figures ---------------------------------------------------------------------------


def stat_filters(request: Request) -> selectors.Filters:
    query, tz = report_query(request)
    now = timezone.now()
    end = query.end or now
    start = query.start or (end - timedelta(days=7))
    try:  # `from` alone ends now: still bounded
        check_span(start, end)
    except DjangoValidationError as error:
        raise exceptions.ValidationError({"to" if query.end else "from": error.messages}) from None
    return selectors.stat_scope(
        request.user,
        selectors.Filters(
            start=start,
            end=end,
            tz=tz,
            team_ids=query.team_ids,
            channels=query.channels,
            operator_ids=query.operator_ids,
        ),
    )


def _key(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


class KpisView(ApiMixin, APIView):
    permission_classes = [IsAuthenticated, api_capability(Capability.VIEW_STATISTICS)]

    @extend_schema(
        tags=["reports"],
        parameters=[
            *PERIOD_PARAMS,
            OpenApiParameter("group_by", str, enum=list(selectors.GROUPS)),
        ],
        responses={200: dict},
    )
    def get(self, request: Request) -> Response:
        filters = stat_filters(request)
        group_by = request.query_params.get("group_by") or None
        if group_by is not None and group_by not in selectors.GROUPS:
            raise exceptions.ValidationError(
                {"group_by": _("One of: %(g)s") % {"g": ", ".join(selectors.GROUPS)}}
            )
        chats = selectors.chat_totals(filters, group_by=group_by)
        calls = selectors.call_totals(filters, group_by=group_by)
        keys = sorted({*chats, *calls}, key=lambda k: (k is None, str(k)))
        groups = [
            {
                "key": _key(k),
                "chats": chats.get(k, ChatTotals()).kpis(),
                "calls": calls.get(k, CallTotals()).kpis(),
            }
            for k in keys
        ]
        total_chats = selectors.chat_totals(filters).get(None, ChatTotals())
        total_calls = selectors.call_totals(filters).get(None, CallTotals())
        return Response(
            {
                "from": filters.start.isoformat(),
                "to": filters.end.isoformat(),
                "settings": {
                    "chat_sl_seconds": settings.ANALYTICS_CHAT_SL_SECONDS,
                    "call_sl_seconds": settings.ANALYTICS_CALL_SL_SECONDS,
                    "short_abandon_seconds": settings.ANALYTICS_SHORT_ABANDON_SECONDS,
                    "call_sl_abandons": settings.ANALYTICS_CALL_SL_ABANDONS,
                },
                "chats": total_chats.kpis(),
                "calls": total_calls.kpis(),
                "group_by": group_by,
                "groups": groups if group_by else [],
                "names": _names(group_by, keys),
            }
        )


def _names(group_by: str | None, keys: list[Any]) -> dict[str, str]:
    from accounts.models import User

    if group_by == "team":
        return {str(k): v for k, v in selectors.names(Team, keys).items()}
    if group_by == "operator":
        return {str(k): v for k, v in selectors.names(User, keys).items()}
    return {}


class HeatmapView(ApiMixin, APIView):
    permission_classes = [IsAuthenticated, api_capability(Capability.VIEW_STATISTICS)]

    @extend_schema(
        tags=["reports"],
        parameters=[*PERIOD_PARAMS, OpenApiParameter("metric", str, enum=list(heatmap.METRICS))],
        responses={200: dict},
    )
    def get(self, request: Request) -> Response:
        filters = stat_filters(request)
        metric = request.query_params.get("metric") or "concurrent"
        if metric not in heatmap.METRICS:
            raise exceptions.ValidationError({"metric": ", ".join(heatmap.METRICS)})
        grid = heatmap.heatmap(filters, metric=metric)
        return Response(
            {
                "metric": metric,
                "time_zone": str(filters.tz),
                "cells": [
                    {
                        "weekday": c.weekday,
                        "hour": c.hour,
                        "avg": c.avg,
                        "p90": c.p90,
                        "samples": c.samples,
                    }
                    for row in grid
                    for c in row
                ],
            }
        )


class StaffingView(ApiMixin, APIView):
    permission_classes = [IsAuthenticated, api_capability(Capability.VIEW_STATISTICS)]

    @extend_schema(tags=["reports"], parameters=PERIOD_PARAMS, responses={200: dict})
    def get(self, request: Request) -> Response:
        result = heatmap.staffing(stat_filters(request))
        result["cells"] = [c.__dict__ for c in result["cells"]]
        return Response(result)
