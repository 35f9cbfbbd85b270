from __future__ import annotations

from django.urls import path

from analytics import views, wallboard_views

urlpatterns = [
    path("statistics/", views.dashboard, name="statistics"),
    path("statistics/wallboard/", wallboard_views.wallboard, name="statistics-wallboard"),
    path(
        "statistics/wallboard/live/",
        wallboard_views.wallboard_fragment,
        name="statistics-wallboard-live",
    ),
    path("statistics/wallboard/tv/", wallboard_views.wallboard_tv, name="statistics-wallboard-tv"),
    path(
        "statistics/wallboard/tv/live/",
        wallboard_views.wallboard_tv_fragment,
        name="statistics-wallboard-tv-live",
    ),
    path("statistics/exports/", views.export_start, name="statistics-export"),
    path("statistics/exports/jobs/", views.export_jobs, name="statistics-export-jobs"),
    path(
        "statistics/exports/<int:pk>/download/",
        views.export_download,
        name="statistics-export-download",
    ),
]
