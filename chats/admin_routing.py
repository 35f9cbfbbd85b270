"""Admin for routing configuration: topic rules (team and required skill per topic).

Imported by chats/admin.py so that Django's admin autodiscovery registers it.
"""

from __future__ import annotations

from django.contrib import admin

from accounts.access import Capability
from accounts.admin_base import CapabilityModelAdmin
from chats.models import TopicRule


@admin.register(TopicRule)
class TopicRuleAdmin(CapabilityModelAdmin):
    view_capability = Capability.USE_ADMIN
    list_display = ("topic", "team", "required_skill")
    list_filter = ("team", "required_skill")
    search_fields = ("topic",)
    autocomplete_fields = ()
