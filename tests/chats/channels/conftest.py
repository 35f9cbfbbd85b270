"""Channel fixtures: a fake Bot API on localhost, Telegram inboxes, real-format updates."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import TestCase, override_settings

from accounts.models import Team
from chats.models import Inbox
from tests import factories
from tests.chats.channels.fakes import FakeBotApi

_ids = itertools.count(500_000)
BOT_TOKEN = "123456:TEST-token"
CUSTOMER_TG = {
    "id": 7001,
    "is_bot": False,
    "first_name": "Ольга",
    "last_name": "Петрова",
    "username": "olga_p",
    "language_code": "ru",
}


@pytest.fixture
def bot_api() -> Iterator[FakeBotApi]:
    fake = FakeBotApi()
    with fake.running(), override_settings(TELEGRAM_API_BASE=fake.url):
        yield fake


@pytest.fixture
def telegram_inbox(support: Team) -> Inbox:
    return factories.make_inbox(
        name="Telegram bot", kind=Inbox.Kind.TELEGRAM, team=support, bot_token=BOT_TOKEN
    )


def update(kind: str = "message", **message: Any) -> dict[str, Any]:
    """A Bot API update of `kind` carrying a private-chat message from CUSTOMER_TG."""
    update_id = message.pop("update_id", None) or next(_ids)
    body = {
        "message_id": message.pop("message_id", next(_ids)),
        "from": message.pop("from_", CUSTOMER_TG),
        "chat": {"id": CUSTOMER_TG["id"], "first_name": "Ольга", "type": "private"},
        "date": 1_760_000_000,
        **message,
    }
    if kind == "edited_message":
        body["edit_date"] = 1_760_000_100
    return {"update_id": update_id, kind: body}


def committed() -> Any:
    """Run what the code defers to commit (tasks, live events) at the end of the block, as
    a real commit would; tests run inside a transaction that never commits."""
    return TestCase.captureOnCommitCallbacks(execute=True)


def webhook(
    client: Any,
    inbox: Inbox,
    payload: Any,
    *,
    secret: str | None = "inbox",  # noqa: S107
) -> Any:
    headers = {}
    if secret is not None:
        headers["HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN"] = (
            inbox.secret if secret == "inbox" else secret
        )
    data = payload if isinstance(payload, str | bytes) else json.dumps(payload)
    with committed():
        return client.post(
            f"/integrations/telegram/{inbox.pk}/webhook",
            data=data,
            content_type="application/json",
            **headers,
        )
