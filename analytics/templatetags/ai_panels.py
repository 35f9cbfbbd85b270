"""The AI blocks of other pages: the hand-over card on the thread page, the anomaly alerts
and the topic trends on the statistics page (docs/ai.md)."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.inclusion_tag("analytics/_handover_card.html", takes_context=True)
def handover_card(context: template.Context, conversation: Any) -> dict[str, Any]:
    """The stored summary of a closed conversation, else a fresh offline card made from the
    messages the thread page already holds (`timeline`): one query, for the label."""
    from analytics.ai.handover import conversation_summary
    from analytics.models import ConversationSummary

    stored = None
    if conversation.status == "closed":
        stored = ConversationSummary.objects.filter(conversation_id=conversation.pk).first()
    if stored is not None:
        return {"text": stored.text, "lang": stored.lang, "source": stored.source, "stored": True}
    timeline = context.get("timeline")
    messages = None
    if timeline is not None:
        messages = [item.message for item in timeline if getattr(item, "message", None)]
    summary = conversation_summary(conversation, messages=messages)
    if summary is None:
        return {"text": ""}
    return {"text": summary.text, "lang": summary.lang, "source": summary.source, "stored": False}


@register.inclusion_tag("analytics/_ai_panels.html", takes_context=True)
def ai_statistics_panels(context: template.Context) -> dict[str, Any]:
    """The spike alerts and topic trends the viewer may see (their role's scope): alerts of
    their teams' segments, topics of the conversations they see."""
    from analytics.ai.trends import recent_alerts, topic_trends
    from chats.selectors import visible_conversations

    user = context["request"].user
    return {
        "alerts": recent_alerts(user=user, limit=10),
        "topics": topic_trends(limit=10, conversations=visible_conversations(user)),
    }
