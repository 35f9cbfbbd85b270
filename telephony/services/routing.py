"""Routing rules (which queue a caller belongs in); changing one drops the cached routes."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from smartdesk.core.oncommit import after_commit
from telephony.models import RouteRule
from telephony.route_cache import route_rules_changed


@transaction.atomic
def route_rule_save(*, rule: RouteRule, actor: Any) -> RouteRule:
    if rule.kind == RouteRule.Kind.LOYALTY_TIER and rule.tier_id is None:
        raise ValidationError(_("A loyalty-tier rule needs a tier."))
    needs_value = (RouteRule.Kind.OPEN_TOPIC, RouteRule.Kind.LANGUAGE, RouteRule.Kind.DID)
    if rule.kind in needs_value and not rule.value.strip():
        raise ValidationError(_("This rule needs a value."))
    rule.value = rule.value.strip()
    rule.save()
    after_commit(route_rules_changed, name="route-rules-changed")
    return rule


@transaction.atomic
def route_rule_delete(*, rule: RouteRule, actor: Any) -> None:
    rule.delete()
    after_commit(route_rules_changed, name="route-rules-changed")
