"""PBX settings (the AMI connection the listener uses)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from telephony.models import Pbx


@transaction.atomic
def pbx_save(*, pbx: Pbx, actor: Any, new_secret: str = "") -> Pbx:
    """Create or change a PBX; an empty `new_secret` keeps the stored one. The listener picks
    the change up on its next connection."""
    if new_secret:
        pbx.secret = new_secret
    if not pbx.secret:
        raise ValidationError(_("A new PBX needs its AMI secret."))
    pbx.save()
    return pbx
