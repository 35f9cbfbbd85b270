"""The operator's own UI preferences (the preferences page and its form)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from accounts import access
from accounts.models import OperatorProfile
from smartdesk.core.updates import model_update

# What an operator may change about their own profile (the preferences page and its form).
PREFERENCE_FIELDS = (
    "language",
    "time_zone",
    "font_scale",
    "high_contrast",
    "reduced_motion",
    "alert_sound",
    "alert_desktop",
    "alert_title_count",
    "reduced_distraction",
    "keyboard_shortcuts",
)


@transaction.atomic
def profile_update_preferences(*, profile: OperatorProfile, **preferences: Any) -> OperatorProfile:
    """The operator's own UI preferences; not an access change, so not audited."""
    unknown = set(preferences) - set(PREFERENCE_FIELDS)
    if unknown:
        raise ValueError(f"not preferences: {sorted(unknown)}")
    for name, value in preferences.items():
        setattr(profile, name, value)
    profile.full_clean(exclude=["user", "role"])
    if preferences:
        model_update(profile, **preferences)
    access.forget(profile.user)
    return profile
