"""System checks of the deployment's environment: a variable that is no longer read is
reported (`manage.py check`, and at every start), so a setting someone relies on does not
stop working without a word."""

from __future__ import annotations

import os
from typing import Any

from django.core.checks import Warning, register

REMOVED_ENVIRONMENT = {
    "DISTRIBUTION_PRIORITY_HOOKS": (
        "A new conversation's priority comes from the customer's loyalty tier directly "
        "(docs/distribution.md); no other hook is called. Remove the variable."
    ),
}


@register()
def removed_environment(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    return [
        Warning(f"{name} is set, but is no longer read.", hint=hint, id="smartdesk.W001")
        for name, hint in REMOVED_ENVIRONMENT.items()
        if name in os.environ
    ]
