"""`/api/v1/reports/…` (mounted by smartdesk.urls)."""

from __future__ import annotations

from django.urls import path

from analytics import api

urlpatterns = [
    path("reports/kpis/", api.KpisView.as_view(), name="reports-kpis"),
    path("reports/heatmap/", api.HeatmapView.as_view(), name="reports-heatmap"),
    path("reports/staffing/", api.StaffingView.as_view(), name="reports-staffing"),
    path("reports/exports/", api.ExportJobsView.as_view(), name="reports-exports"),
    path("reports/exports/<int:pk>/", api.ExportJobView.as_view(), name="reports-export"),
    path(
        "reports/exports/<int:pk>/download/",
        api.ExportDownloadView.as_view(),
        name="reports-export-download",
    ),
    path(
        "reports/<str:dataset>.<str:fmt>",
        api.DownloadView.as_view(),
        name="reports-download",
    ),
    *(
        path(f"reports/{name}/", api.dataset_view(name), name=f"reports-{name}")
        for name in ("conversations", "events", "messages", "calls", "hourly", "operators")
    ),
]
