"""The active lists in working order (most urgent, longest waiting first), as a partial index
so a page is read in index order and the scan stops after it (PostgreSQL; SQLite cannot put
NULLS LAST in an index). Must match the ordering in chats.selectors.inbox."""

from django.db import migrations


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX conv_active_order ON chats_conversation "
            "(priority DESC, waiting_since ASC NULLS LAST, last_message_at DESC NULLS LAST, id) "
            "WHERE status IN ('open', 'snoozed') AND deleted_at IS NULL"
        )


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS conv_active_order")


class Migration(migrations.Migration):
    dependencies = [("chats", "0002_message_search_index")]

    operations = [migrations.RunPython(forward, backward)]
