from __future__ import annotations

from django.apps import AppConfig


class CoreConfig(AppConfig):
    default = True
    name = "smartdesk.core"
    # The label the live-event table, its migrations and their dependants have always used.
    label = "smartdesk"
    verbose_name = "Smartdesk"

    def ready(self) -> None:
        from smartdesk.core import metrics, routers

        metrics.connect_celery_signals()
        routers.connect_celery_signals()
