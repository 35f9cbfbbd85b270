from __future__ import annotations

from django.urls import path

from analytics.ai import views

urlpatterns = [
    path(
        "inbox/c/<int:pk>/ai/classification/",
        views.classification_correct,
        name="ai-classification-correct",
    ),
]
