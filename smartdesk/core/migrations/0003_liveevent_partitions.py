"""Live events in daily partitions on PostgreSQL (docs/partitions.md); SQLite keeps one table.

Retention (LIVE_EVENT_RETENTION_HOURS) then drops whole days instead of deleting rows. A
unique index on a partitioned table must contain the partition key, so `seq` loses its unique
index (it is unique by construction: one sequence draws it at commit) and keeps a plain one;
the primary key becomes (id, created_at). The commit-time stamp names the row's partition
key too, so its UPDATE touches one partition. The way back rebuilds one plain table.
"""

from django.db import migrations, models

from smartdesk.core import partitions

STAMP = """
CREATE OR REPLACE FUNCTION smartdesk_liveevent_stamp_seq() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7300001);
    UPDATE smartdesk_liveevent
       SET seq = nextval('smartdesk_liveevent_commit_seq')
     WHERE id = NEW.id{pruned};
    RETURN NULL;
END
$$;
"""
STAMP_PRUNED = STAMP.replace("{pruned}", " AND created_at = NEW.created_at")
STAMP_PLAIN = STAMP.replace("{pruned}", "")


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    partitions.to_partitioned(schema_editor, partitions.LIVE_EVENTS)
    schema_editor.execute(STAMP_PRUNED)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(STAMP_PLAIN)
    partitions.to_plain(schema_editor, partitions.LIVE_EVENTS)


class Migration(migrations.Migration):
    dependencies = [("smartdesk", "0002_liveevent_commit_seq")]

    operations = [
        migrations.AlterField(
            model_name="liveevent",
            name="seq",
            field=models.BigIntegerField(db_index=True, null=True),
        ),
        migrations.RunPython(forward, backward),
    ]
