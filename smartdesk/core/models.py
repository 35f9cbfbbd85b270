"""The live-event log: what the operator sockets were told, kept so a reconnect can replay it.

`seq` is assigned when the writing transaction commits (a deferred trigger under a
transaction advisory lock on PostgreSQL), so seq order is commit order: a browser that saw
seq N has seen every event committed before it, and `seq > N` is exactly what it missed.
"""

from __future__ import annotations

from django.db import models


class LiveEvent(models.Model):
    # Unique by construction (one sequence draws it), not by an index: on PostgreSQL the table
    # is partitioned by day of `created_at` (smartdesk/core/partitions/), and a unique index on
    # a partitioned table must contain the partition key.
    seq = models.BigIntegerField(null=True, db_index=True)
    type = models.CharField(max_length=64)
    payload = models.JSONField()
    # Who may replay it: the addressed user, or whoever can see the conversation.
    user_id = models.BigIntegerField(null=True, db_index=True)
    conversation_id = models.BigIntegerField(null=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["conversation_id", "seq"], name="liveevent_conv_seq")]

    def __str__(self) -> str:
        return f"{self.seq} {self.type}"
