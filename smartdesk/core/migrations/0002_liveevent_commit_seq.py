"""Stamp each live event with a sequence number when its transaction commits (PostgreSQL).

A deferred constraint trigger runs at COMMIT. It takes a transaction-level advisory lock,
held until the commit completes, then draws the number: no other event-writing transaction
can draw a number and become visible before this one, so `seq` order is commit order.
The lock is held only for the instant of the commit, after every row lock the transaction
needed was already taken, so it cannot deadlock with them. SQLite needs none of this.
"""

from django.db import migrations

FORWARD = """
CREATE SEQUENCE smartdesk_liveevent_commit_seq;
CREATE FUNCTION smartdesk_liveevent_stamp_seq() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7300001);
    UPDATE smartdesk_liveevent
       SET seq = nextval('smartdesk_liveevent_commit_seq')
     WHERE id = NEW.id;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER smartdesk_liveevent_stamp_seq
    AFTER INSERT ON smartdesk_liveevent
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION smartdesk_liveevent_stamp_seq();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS smartdesk_liveevent_stamp_seq ON smartdesk_liveevent;
DROP FUNCTION IF EXISTS smartdesk_liveevent_stamp_seq();
DROP SEQUENCE IF EXISTS smartdesk_liveevent_commit_seq;
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("smartdesk", "0001_initial")]

    operations = [migrations.RunPython(forward, backward)]
