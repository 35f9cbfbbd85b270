"""Phone numbers as telephony stores and compares them: E.164, or "" for a withheld one."""

from __future__ import annotations

from customers.models import Identity
from customers.services import identity_normalise

# What a PBX puts in the caller id when the caller hides their number.
WITHHELD = {"", "<unknown>", "anonymous", "unknown", "restricted", "private"}


def number_normalise(raw: str) -> str:
    """E.164 for a valid number, "" for a withheld or invalid one."""
    raw = (raw or "").strip()
    if raw.lower() in WITHHELD:
        return ""
    return identity_normalise(Identity.Kind.PHONE, raw)
