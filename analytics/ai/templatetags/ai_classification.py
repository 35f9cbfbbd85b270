"""The classifier's answer in the list row and the thread (issue 14)."""

from __future__ import annotations

from typing import Any

from django import template

from analytics.ai.classification import classification_of
from analytics.ai.models import Label, Topic

register = template.Library()


@register.inclusion_tag("ai/_chip.html")
def ai_chip(row: Any) -> dict[str, Any]:
    """The chip of a list row (chats.views.presenters.rows.Row): its part `ai_chip`."""
    return {"chip": row.part("ai_chip")}


@register.inclusion_tag("ai/_classification.html", takes_context=True)
def ai_thread_card(context: template.Context, conversation: Any) -> dict[str, Any]:
    from chats.selectors import can_act

    classification = classification_of(conversation)
    request = context.get("request")
    user = getattr(request, "user", None)
    shown = classification.shown_topics if classification else []
    topics = list(Topic.objects.values_list("slug", "name", "is_active"))  # one query for both
    names = {slug: name for slug, name, _active in topics}
    return {
        "conversation": conversation,
        "classification": classification,
        "topic_names": [names.get(s) or s.replace("_", " ") for s in shown],
        "topics_value": ", ".join(shown),
        "labels": Label.choices,
        "can_correct": bool(user is not None and can_act(user)) and not conversation.deleted_at,
        "csrf_token": context.get("csrf_token"),
        "available_topics": [(slug, name) for slug, name, active in topics if active],
    }
