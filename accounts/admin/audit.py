"""The access audit in the admin: the audit trail shown on a role or user, and the audit
log itself (read only)."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from accounts.admin_base import ReadOnlyAdmin
from accounts.models import AccessAuditEntry


def _audit_table(target_type: str, target_id: int | None) -> str:
    if target_id is None:
        return "—"
    entries = AccessAuditEntry.objects.filter(target_type=target_type, target_id=target_id)[:50]
    if not entries:
        return str(_("No changes recorded yet."))
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td><pre>{}</pre></td></tr>",
        (
            (
                f"{e.at:%Y-%m-%d %H:%M:%S}",
                e.actor_display,
                e.get_action_display(),
                _changes(e.before, e.after),
            )
            for e in entries
        ),
    )
    return format_html(
        "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead>"
        "<tbody>{}</tbody></table>",
        _("When"),
        _("Who"),
        _("Action"),
        _("Before → after"),
        rows,
    )


def _changes(before: dict[str, Any] | None, after: dict[str, Any] | None) -> str:
    """Only the keys that changed, one per line: `key: old → new`."""
    before, after = before or {}, after or {}
    lines = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old != new:
            old_text = json.dumps(old, ensure_ascii=False)
            lines.append(f"{key}: {old_text} → {json.dumps(new, ensure_ascii=False)}")
    return "\n".join(lines)


@admin.register(AccessAuditEntry)
class AccessAuditEntryAdmin(ReadOnlyAdmin):
    list_display = ("at", "who", "action", "target_type", "target_repr", "changes")
    list_filter = ("action", "target_type")
    search_fields = ("actor_repr", "target_repr")
    date_hierarchy = "at"

    @admin.display(description=_("who"), ordering="actor_repr")
    def who(self, entry: AccessAuditEntry) -> str:
        return entry.actor_display

    @admin.display(description=_("before → after"))
    def changes(self, entry: AccessAuditEntry) -> str:
        return format_html("<pre>{}</pre>", _changes(entry.before, entry.after))
