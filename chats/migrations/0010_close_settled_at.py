"""`Conversation.close_settled_at` (issue 13, undo for close): when a close's undo window
passed and its `conversation_closed` was sent (CSAT survey, AI summary and classification).

Every conversation closed before this migration has had its signal already (the old task
ran at the close), so it is marked settled at its `closed_at`: the sweep must not send a
second survey for an old close. The partial index holds what the sweep looks for.
"""

from django.db import migrations, models
from django.db.models import F


def mark_closed_settled(apps, schema_editor):
    Conversation = apps.get_model("chats", "Conversation")
    Conversation.objects.filter(status="closed", close_settled_at__isnull=True).update(
        close_settled_at=F("closed_at")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("chats", "0009_message_partitions"),
    ]

    operations = [
        migrations.AddField(
            model_name="conversation",
            name="close_settled_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="close settled at"),
        ),
        migrations.RunPython(mark_closed_settled, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name="conversation",
            index=models.Index(
                models.F("closed_at"),
                models.F("id"),
                condition=models.Q(("close_settled_at__isnull", True), ("status", "closed")),
                name="conv_close_unsettled",
            ),
        ),
    ]
