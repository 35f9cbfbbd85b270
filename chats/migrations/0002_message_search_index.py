"""Full-text index over message text for search (PostgreSQL; SQLite searches without one).

The 'simple' configuration (no stemming) serves Russian and English text alike; queries use
prefix terms. The expression must stay identical to the one in chats.selectors."""

from django.db import migrations


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX msg_body_fts ON chats_message "
            "USING gin (to_tsvector('simple'::regconfig, body))"
        )


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS msg_body_fts")


class Migration(migrations.Migration):
    dependencies = [("chats", "0001_initial")]

    operations = [migrations.RunPython(forward, backward)]
