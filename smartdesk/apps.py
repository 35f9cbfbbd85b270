from __future__ import annotations

from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class SmartdeskConfig(AppConfig):
    default = True
    name = "smartdesk"
    verbose_name = "Smartdesk"

    def ready(self) -> None:
        from smartdesk import metrics

        metrics.connect_celery_signals()

        from smartdesk import routers

        routers.connect_celery_signals()


class SmartdeskAdminConfig(admin_apps.AdminConfig):
    default = False
    # The site checks role capabilities, which live in accounts (named, not imported).
    default_site = "accounts.admin_base.CapabilityAdminSite"
