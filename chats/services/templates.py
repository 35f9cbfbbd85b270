"""Reply templates: a safe renderer with a whitelist of fields, and template writes.

`{{ customer.first_name }}` and friends are replaced by plain text; anything outside the
whitelist is refused (at save time and at render time), so a template can never reach into
objects, call methods or inject markup. HTML output escapes every value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.utils import translation
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from chats.models import Conversation, ReplyTemplate
from customers.languages import customer_locale, language_normalise
from customers.selectors import (
    allergies_text,
    last_order_items_text,
    loyalty_summary,
    top_offer_text,
)

PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")

# field -> how to read it from (conversation, operator). The customer card's fields cost a query
# or two each, so `template_context` reads a field only when a template uses it.
FIELDS: dict[str, Callable[[Conversation, Any], str]] = {
    "customer.first_name": lambda c, o: c.customer.first_name,
    "customer.last_name": lambda c, o: c.customer.last_name,
    "customer.name": lambda c, o: c.customer.name,
    "customer.last_order_items": lambda c, o: last_order_items_text(c.customer_id),
    "customer.allergies": lambda c, o: allergies_text(c.customer_id),
    "customer.tier": lambda c, o: _tier_name(c),
    "customer.points": lambda c, o: str(loyalty_summary(c.customer_id).balance),
    "customer.offer": lambda c, o: top_offer_text(c.customer_id),
    "operator.first_name": lambda c, o: o.first_name or o.username,
    "operator.name": lambda c, o: str(o),
    "conversation.id": lambda c, o: str(c.pk),
}


def _tier_name(conversation: Conversation) -> str:
    """The tier as the customer reads it: a shipped tier's name in the customer's language."""
    tier = loyalty_summary(conversation.customer_id).tier
    if tier is None:
        return ""
    with translation.override(customer_locale(conversation.customer)):
        return str(tier.display_name)


def template_fields(body: str) -> list[str]:
    return [m.group(1) for m in PLACEHOLDER.finditer(body)]


def template_check(body: str) -> None:
    """Raise ValidationError naming every placeholder outside the whitelist."""
    unknown = sorted({f for f in template_fields(body) if f not in FIELDS})
    if unknown:
        raise ValidationError(
            _("Unknown placeholders: %(fields)s. Allowed: %(allowed)s.")
            % {"fields": ", ".join(unknown), "allowed": ", ".join(sorted(FIELDS))}
        )


class _Values(Mapping[str, str]):
    """The whitelisted values of one conversation, each read on first use and kept."""

    def __init__(self, conversation: Conversation, operator: Any) -> None:
        self._conversation = conversation
        self._operator = operator
        self._read: dict[str, str] = {}

    def __getitem__(self, name: str) -> str:
        if name not in FIELDS:
            raise KeyError(name)
        if name not in self._read:
            self._read[name] = FIELDS[name](self._conversation, self._operator) or ""
        return self._read[name]

    def __iter__(self) -> Iterator[str]:
        return iter(FIELDS)

    def __len__(self) -> int:
        return len(FIELDS)


def template_context(conversation: Conversation, operator: Any) -> Mapping[str, str]:
    return _Values(conversation, operator)


def template_render(body: str, context: Mapping[str, str]) -> str:
    """Plain text for the message body."""
    template_check(body)
    return PLACEHOLDER.sub(lambda m: context.get(m.group(1), ""), body)


def template_render_html(body: str, context: Mapping[str, str]) -> SafeString:
    """The preview: the template's own text and every value escaped, line breaks kept."""
    template_check(body)
    parts, last = [], 0
    for match in PLACEHOLDER.finditer(body):
        parts.append(escape(body[last : match.start()]))
        parts.append(f"<mark>{escape(context.get(match.group(1), ''))}</mark>")
        last = match.end()
    parts.append(escape(body[last:]))
    html = "".join(parts).replace("\r\n", "\n").replace("\n", "<br>")
    return mark_safe(html)  # noqa: S308 - every piece was escaped above


def _in_language(code: str) -> Q:
    return Q(language__iexact=code) | Q(language__istartswith=f"{code}-")


def templates_by_language(
    templates: QuerySet[ReplyTemplate], *, customer_language: str, operator_language: str
) -> QuerySet[ReplyTemplate]:
    """The picker's order: templates in the customer's language first, then those for any
    language (no language set), then the operator's own UI language, then the rest; by
    shortcut within each. With the customer's language unknown, the operator's comes first."""
    customer = language_normalise(customer_language)
    operator = language_normalise(operator_language)
    ranks = []
    if customer:
        ranks.append(When(_in_language(customer), then=Value(0)))
    if operator and operator != customer:
        ranks.append(When(_in_language(operator), then=Value(1 if not customer else 2)))
    ranks.append(When(language="", then=Value(2 if not customer else 1)))
    rank = Case(*ranks, default=Value(3), output_field=IntegerField())
    return templates.annotate(language_rank=rank).order_by("language_rank", "shortcut", "pk")


@transaction.atomic
def reply_template_save(*, template: ReplyTemplate, actor: Any) -> ReplyTemplate:
    """Create or update a template after checking its placeholders."""
    template_check(template.body)
    template.full_clean()
    template.save()
    return template
