"""The three built-in roles. Super-admins may edit their capabilities later; this only creates
what is missing, so it never overwrites an edit."""

from django.db import migrations

BUILTIN_ROLES = [
    {
        "slug": "operator",
        "name": "Operator",
        "description": "Answers the conversations and calls of their teams.",
        "scope": "teams",
    },
    {
        "slug": "admin",
        "name": "Admin",
        "description": "Runs the floor: sees every conversation, statistics and exports.",
        "scope": "all",
        "can_view_deleted_messages": True,
        "can_restore_conversations": True,
        "can_view_statistics": True,
        "can_export_reports": True,
        "can_manage_templates": True,
        "can_view_customer_pii": True,
        "can_use_admin": True,
    },
    {
        "slug": "super-admin",
        "name": "Super-admin",
        "description": "Everything an admin does, plus roles, users and teams.",
        "scope": "all",
        "can_view_deleted_messages": True,
        "can_restore_conversations": True,
        "can_view_statistics": True,
        "can_export_reports": True,
        "can_manage_templates": True,
        "can_view_customer_pii": True,
        "can_use_admin": True,
        "can_manage_access": True,
    },
]


def create_builtin_roles(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for spec in BUILTIN_ROLES:
        fields = dict(spec)
        slug = fields.pop("slug")
        Role.objects.get_or_create(slug=slug, defaults=fields)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [migrations.RunPython(create_builtin_roles, migrations.RunPython.noop)]
