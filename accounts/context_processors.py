from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from accounts.access import Capability, capabilities_of, profile_of
from accounts.models import OperatorProfile


def ui_preferences(request: HttpRequest) -> dict[str, Any]:
    """What every page needs to honour the user's display preferences and show its menu."""
    user = getattr(request, "user", None)
    profile = profile_of(user)
    caps = capabilities_of(user)
    return {
        # Where the pages open the operator socket (empty: their own origin).
        "live_socket_origin": settings.LIVE_SOCKET_ORIGIN,
        "ui": {
            "font_scale": profile.font_scale if profile else 100,
            "high_contrast": bool(profile and profile.high_contrast),
            "reduced_motion": bool(profile and profile.reduced_motion),
            # Alerts are off for a reduced-distraction profile, whatever else is set.
            "alert_sound": bool(
                profile and profile.alert_sound and not profile.reduced_distraction
            ),
            "alert_desktop": bool(
                profile and profile.alert_desktop and not profile.reduced_distraction
            ),
            "alert_title_count": bool(
                profile and profile.alert_title_count and not profile.reduced_distraction
            ),
            "keyboard_shortcuts": bool(profile is None or profile.keyboard_shortcuts),
        },
        "can": {c.value: (c in caps) for c in Capability},
        "presence": profile.presence if profile else None,
        "presence_choices": OperatorProfile.Presence.choices,
    }
