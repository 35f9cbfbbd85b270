"""Triggers only *request* a pass: a Celery task taking ids, queued after the current
transaction commits (the tasks are idempotent; the sweep is the safety net)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from smartdesk.core.oncommit import after_commit


def request_assignment(conversation_id: int, *, exclude_user_id: int | None = None) -> None:
    """Ask for this conversation to be placed, after the current transaction commits."""
    from chats.tasks import assign_conversation

    after_commit(
        assign_conversation.delay, conversation_id, exclude_user_id, name="assign-conversation"
    )


def request_fill(user_ids: Iterable[int]) -> None:
    """Ask for these operators to be given waiting work, after commit."""
    from chats.tasks import fill_operator

    for user_id in sorted(set(user_ids)):
        after_commit(fill_operator.delay, user_id, name="fill-operator")


def on_operators_available(sender: Any, user_ids: list[int], **kwargs: Any) -> None:
    """`accounts.services.operators_available` (connected in `chats.apps`), already after
    commit: queue a pass for each operator."""
    from chats.tasks import fill_operator

    for user_id in user_ids:
        after_commit(fill_operator.delay, user_id, name="fill-operator")
