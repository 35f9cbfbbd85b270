"""Messages in monthly partitions on PostgreSQL (docs/partitions.md); SQLite keeps one table.

A partitioned table's primary key and unique indexes must contain the partition key, and a
foreign key to it must name that whole key. So, on PostgreSQL:

- the primary key becomes (id, created_at); `id` stays unique (the identity sequence draws it)
  and stays Django's pk;
- the foreign keys to a message (its revisions, its delivery attempts, a reply's `reply_to`)
  lose their database constraint (`db_constraint=False`, on every backend): Django emulates
  on_delete, and nothing but tests deletes messages (the UI soft-deletes);
- `(inbox, external_id)`, the idempotency key of channel ingest, stays unique through a small
  side table `chats_message_external_key` kept by a trigger: a duplicate insert still fails
  with a unique violation (IntegrityError) in the same statement, as the index did (a
  TRUNCATE of the messages empties it too). The index `msg_inbox_external_id_unique` stays,
  no longer unique, for the look-ups.

The conversion rewrites the table under an exclusive lock (every row is copied once): plan it
as downtime on a large table. The way back rebuilds one plain table with the same rows.
"""

from django.db import migrations, models
from django.db.models import deletion

from smartdesk.core import partitions

KEY = "msg_inbox_external_id_unique"

FORWARD_KEY = """
CREATE TABLE chats_message_external_key (
    inbox_id bigint NOT NULL,
    external_id varchar(128) NOT NULL,
    PRIMARY KEY (inbox_id, external_id)
);
INSERT INTO chats_message_external_key (inbox_id, external_id)
    SELECT inbox_id, external_id FROM chats_message WHERE external_id IS NOT NULL;
CREATE FUNCTION chats_message_external_key() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') AND OLD.external_id IS NOT NULL THEN
        DELETE FROM chats_message_external_key
         WHERE inbox_id = OLD.inbox_id AND external_id = OLD.external_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.external_id IS NOT NULL THEN
        INSERT INTO chats_message_external_key (inbox_id, external_id)
            VALUES (NEW.inbox_id, NEW.external_id);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER chats_message_external_key_insert AFTER INSERT ON chats_message
    FOR EACH ROW WHEN (NEW.external_id IS NOT NULL)
    EXECUTE FUNCTION chats_message_external_key();
CREATE TRIGGER chats_message_external_key_delete AFTER DELETE ON chats_message
    FOR EACH ROW WHEN (OLD.external_id IS NOT NULL)
    EXECUTE FUNCTION chats_message_external_key();
CREATE TRIGGER chats_message_external_key_update AFTER UPDATE OF inbox_id, external_id
    ON chats_message FOR EACH ROW
    WHEN (OLD.inbox_id IS DISTINCT FROM NEW.inbox_id
          OR OLD.external_id IS DISTINCT FROM NEW.external_id)
    EXECUTE FUNCTION chats_message_external_key();
CREATE FUNCTION chats_message_external_key_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE chats_message_external_key;
    RETURN NULL;
END
$$;
CREATE TRIGGER chats_message_external_key_truncate AFTER TRUNCATE ON chats_message
    FOR EACH STATEMENT EXECUTE FUNCTION chats_message_external_key_truncate();
"""

BACKWARD_KEY = """
DROP TRIGGER IF EXISTS chats_message_external_key_truncate ON chats_message;
DROP FUNCTION IF EXISTS chats_message_external_key_truncate();
DROP TRIGGER IF EXISTS chats_message_external_key_insert ON chats_message;
DROP TRIGGER IF EXISTS chats_message_external_key_delete ON chats_message;
DROP TRIGGER IF EXISTS chats_message_external_key_update ON chats_message;
DROP FUNCTION IF EXISTS chats_message_external_key();
DROP TABLE IF EXISTS chats_message_external_key;
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    partitions.to_partitioned(schema_editor, partitions.MESSAGES, not_unique=(KEY,))
    schema_editor.execute(FORWARD_KEY)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(BACKWARD_KEY)
    partitions.to_plain(schema_editor, partitions.MESSAGES, unique_again=(KEY,))


class Migration(migrations.Migration):
    dependencies = [("chats", "0008_delivery_outbox")]

    operations = [
        migrations.AlterField(
            model_name="message",
            name="reply_to",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=deletion.SET_NULL,
                related_name="+",
                to="chats.message",
                verbose_name="in reply to",
            ),
        ),
        migrations.AlterField(
            model_name="messagerevision",
            name="message",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=deletion.CASCADE,
                related_name="revisions",
                to="chats.message",
                verbose_name="message",
            ),
        ),
        migrations.AlterField(
            model_name="deliveryattempt",
            name="message",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=deletion.CASCADE,
                related_name="attempts",
                to="chats.message",
                verbose_name="message",
            ),
        ),
        migrations.RunPython(forward, backward),
    ]
