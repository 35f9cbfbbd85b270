"""Every list order of the operator UI and the REST API in an index that holds it.

The indexes are declared in `Conversation.Meta` (the model state below). In the database they
exist on PostgreSQL only, like 0003's `conv_active_order`: SQLite cannot put NULLS LAST in an
index, and the embedded database is small enough to sort. They are built CONCURRENTLY (the
migration is not atomic) so that a production table keeps taking writes while they build; a
build that fails half way leaves the ones before it built and itself INVALID, so a re-run
keeps the valid ones and rebuilds the invalid one. A later migration that removes one of them must be
PostgreSQL-only as well.

`conv_active_order` already exists (0003, raw SQL): it enters the model state here, nothing
is built for it.
"""

from django.db import migrations, models
from django.db.models import F, Q

LIVE = Q(deleted_at__isnull=True)
ACTIVE = Q(status__in=["open", "snoozed"], deleted_at__isnull=True)
SNOOZED = Q(status="snoozed", deleted_at__isnull=True)
DELETED = Q(deleted_at__isnull=False)
WORKING = (
    F("priority").desc(),
    F("waiting_since").asc(nulls_last=True),
    F("last_message_at").desc(nulls_last=True),
    "id",
)
LATEST_CLOSED = (F("closed_at").desc(nulls_last=True), F("id").desc())

EXISTING = models.Index(*WORKING, name="conv_active_order", condition=ACTIVE)
NEW = [
    models.Index(
        *WORKING, name="conv_unassigned_order", condition=ACTIVE & Q(assignee__isnull=True)
    ),
    models.Index(*WORKING, name="conv_snoozed_order", condition=SNOOZED),
    models.Index(*LATEST_CLOSED, name="conv_closed_order", condition=LIVE & Q(status="closed")),
    models.Index(*LATEST_CLOSED, name="conv_deleted_order", condition=DELETED),
    models.Index(
        F("last_message_at").desc(nulls_last=True),
        F("id").desc(),
        name="conv_recent_order",
        condition=LIVE,
    ),
    models.Index("created_at", "id", name="conv_created_order", condition=LIVE),
    models.Index("updated_at", "id", name="conv_updated_order", condition=LIVE),
    models.Index("created_at", "id", name="conv_active_created", condition=ACTIVE),
    models.Index("created_at", "id", name="conv_snoozed_created", condition=SNOOZED),
    models.Index("created_at", "id", name="conv_deleted_created", condition=DELETED),
]


def _drop(schema_editor, name: str) -> None:
    schema_editor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"')


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    conversation = apps.get_model("chats", "Conversation")
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, i.indisvalid FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = ANY(%s)",
            [[index.name for index in NEW]],
        )
        found = dict(cursor.fetchall())
    for index in NEW:
        if found.get(index.name):
            continue  # built by an earlier, interrupted run
        if index.name in found:
            _drop(schema_editor, index.name)
        schema_editor.add_index(conversation, index, concurrently=True)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for index in NEW:
        _drop(schema_editor, index.name)


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [("chats", "0006_delivery_attempt_parts")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddIndex(model_name="conversation", index=index)
                for index in [EXISTING, *NEW]
            ],
            database_operations=[migrations.RunPython(forward, backward)],
        )
    ]
