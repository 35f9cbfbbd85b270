"""How a customer has been in touch beyond their conversations, from the apps built on chats.

Chats imports none of them: telephony (calls) and analytics (satisfaction surveys) each
register a source in their `AppConfig.ready`, and the side panel's `contact_stats` adds up
what the registered sources report. Each source costs one query.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ContactFigures:
    """What one source knows about a customer; a source leaves the rest at the defaults."""

    calls: int = 0
    last_call: datetime | None = None
    csat: float | None = None  # average rating (1–5) of the answered surveys
    csat_answers: int = 0


ContactSource = Callable[[int], ContactFigures]

_sources: list[ContactSource] = []


def register_contact_source(source: ContactSource) -> None:
    """Add a source: a function of the customer id. Registering one twice keeps one."""
    if source not in _sources:
        _sources.append(source)


def contact_figures(customer_id: int) -> list[ContactFigures]:
    """The figures of every registered source for this customer, in registration order."""
    return [source(customer_id) for source in _sources]
