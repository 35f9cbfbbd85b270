"""The delivery outbox: a claim lease and a try count on each reply, and a small partial index
for the sweep that finds queued replies (docs/channels.md, "Delivery").

Both columns are added without rewriting or scanning the table (a nullable column; a constant
database default, PostgreSQL 11+, and no CHECK to validate), so raw inserts that do not name
them (the benchmarks) still work. The index covers only replies still `queued`, so it stays tiny; on PostgreSQL
it is built CONCURRENTLY (the migration is not atomic) so the messages table keeps taking
writes while it builds, and a half-built (INVALID) one from an interrupted run is rebuilt.
"""

from django.db import migrations, models
from django.db.models import Q

QUEUED = models.Index(
    fields=["created_at"], name="msg_delivery_queued", condition=Q(delivery_status="queued")
)


def forward(apps, schema_editor):
    message = apps.get_model("chats", "Message")
    if schema_editor.connection.vendor != "postgresql":
        schema_editor.add_index(message, QUEUED)
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relname = %s",
            [QUEUED.name],
        )
        found = cursor.fetchone()
    if found and found[0]:
        return
    if found:
        schema_editor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{QUEUED.name}"')
    schema_editor.add_index(message, QUEUED, concurrently=True)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        schema_editor.remove_index(apps.get_model("chats", "Message"), QUEUED)
        return
    schema_editor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{QUEUED.name}"')


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [("chats", "0007_list_order_indexes")]

    operations = [
        migrations.AddField(
            model_name="message",
            name="delivery_claimed_until",
            field=models.DateTimeField(
                blank=True, null=True, verbose_name="delivery claimed until"
            ),
        ),
        migrations.AddField(
            model_name="message",
            name="delivery_tries",
            field=models.SmallIntegerField(db_default=0, default=0, verbose_name="delivery tries"),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddIndex(model_name="message", index=QUEUED)],
            database_operations=[migrations.RunPython(forward, backward)],
        ),
    ]
