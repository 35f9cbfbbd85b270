"""The classifier's answer in the list row and the thread (issue 14)."""

from __future__ import annotations

from typing import Any

from django import template

from analytics.ai.models import Classification, Label, Topic

register = template.Library()

_CACHE_KEY = "ai_classifications"


_RELATION = "ai_classification"


def _for_rows(context: template.Context, conversation: Any) -> Classification | None:
    """Read with the row when its query selected it (`register_row_related`, as the live row
    does); otherwise one query for every row of the list being rendered, not one per row."""
    relation = conversation._meta.get_field(_RELATION) if hasattr(conversation, "_meta") else None
    if relation is not None and relation.is_cached(conversation):
        return relation.get_cached_value(conversation)
    # Kept in the context's bottom layer: `{% include %}` gives each row a render_context of its
    # own, and the list includes the row template once per row.
    store = context.dicts[0]
    cache = store.get(_CACHE_KEY)
    if cache is None or conversation.pk not in cache:
        ids = {conversation.pk}
        for row in context.get("rows") or ():
            pk = getattr(row, "pk", None)
            if pk is not None:
                ids.add(pk)
        found = {
            c.conversation_id: c for c in Classification.objects.filter(conversation_id__in=ids)
        }
        cache = {**(cache or {}), **{pk: found.get(pk) for pk in ids}}
        store[_CACHE_KEY] = cache
    return cache[conversation.pk]


@register.inclusion_tag("ai/_chip.html", takes_context=True)
def ai_chip(context: template.Context, conversation: Any) -> dict[str, Any]:
    return {"classification": _for_rows(context, conversation)}


@register.inclusion_tag("ai/_classification.html", takes_context=True)
def ai_thread_card(context: template.Context, conversation: Any) -> dict[str, Any]:
    from chats.selectors import can_act

    classification = _for_rows(context, conversation)
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
