from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AiConfig(AppConfig):
    """Issue 14: conversation classification (its models, tasks and hooks). docs/ai.md"""

    name = "analytics.ai"
    label = "ai"
    verbose_name = _("AI analytics")

    def ready(self) -> None:
        # Cross-app reactions come in through signals: chats never imports analytics.
        from analytics.ai import receivers, tasks_classify  # noqa: F401 - registers the tasks
        from analytics.ai.classification import row_chip
        from chats.views.presenters import register_row_part, register_row_related

        receivers.connect()
        # The list row's chip: the classification read with the row, shown by `{% ai_chip %}`.
        register_row_related(
            "ai_classification", ("label", "corrected_label", "unsure", "corrected_at")
        )
        register_row_part("ai_chip", row_chip)
