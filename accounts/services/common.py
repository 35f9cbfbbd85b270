"""What the account services share: telling the other apps (on commit) that operators
may take more work, and telling open sockets that access changed."""

from __future__ import annotations

from collections.abc import Iterable

from django.dispatch import Signal

from smartdesk.core.oncommit import after_commit
from smartdesk.core.realtime import publish, user_group

# Sent on commit with `user_ids` when operators may take more work than before (came online,
# capacity raised, joined a team). `chats` listens and runs distribution for them; accounts
# imports no other app.
operators_available = Signal()


def _announce_available(user_ids: Iterable[int]) -> None:
    ids = sorted(set(user_ids))
    if ids:
        after_commit(
            operators_available.send, sender=None, user_ids=ids, name="operators-available"
        )


def _access_changed(user_ids: Iterable[int]) -> None:
    """Tell the users' open sockets to recompute what they may hear (on commit)."""
    for user_id in user_ids:
        publish({"type": "access.changed"}, groups=[user_group(user_id)], user_id=user_id)
