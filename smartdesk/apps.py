"""The project wiring as Django apps: the admin (its site checks role capabilities, which
accounts provides) and the `smartdesk` package itself, installed for its management command
(`seed_demo`). The core app is `smartdesk.core.apps.CoreConfig`."""

from __future__ import annotations

from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class ProjectConfig(AppConfig):
    default = True
    name = "smartdesk"
    label = "smartdesk_project"
    verbose_name = "Smartdesk project"

    def ready(self) -> None:
        from smartdesk import checks  # noqa: F401 - registers the environment checks


class SmartdeskAdminConfig(admin_apps.AdminConfig):
    default = False
    default_site = "accounts.admin_base.CapabilityAdminSite"
