"""`{{ customer.language|language_label }}`: the customer's language by name, in the
operator's language ("Russian", "Русский")."""

from __future__ import annotations

from django import template

from customers.languages import language_label as _label

register = template.Library()


@register.filter
def language_label(code: str) -> str:
    return _label(code or "")
