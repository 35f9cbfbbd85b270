"""django-axes (sign-in throttling and lockout) under a name the admin can translate.

Axes' own app config has no verbose name, so the admin's index titled its section with the
label, "Axes", in every language (found by tests/e2e/test_untranslated.py).
"""

from __future__ import annotations

from axes.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AxesConfig(AppConfig):
    verbose_name = _("Sign-in attempts")
