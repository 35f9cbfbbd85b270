"""Demo channels for `manage.py seed_demo`: a Telegram inbox (add a bot token in the admin
to talk to a real bot) and the website widget allowed on the local demo server, with a page
to try it at /widget/<key>/demo/. Idempotent."""

from __future__ import annotations

from accounts.models import Team
from chats.models import Inbox
from chats.services.inboxes import inbox_save

LOCAL_ORIGINS = "http://localhost:8000\nhttp://127.0.0.1:8000"


def seed_channel_demo(teams: dict[str, Team]) -> None:
    team = teams.get("General support")
    if not Inbox.objects.filter(name="Telegram bot").exists():
        inbox_save(
            inbox=Inbox(name="Telegram bot", kind=Inbox.Kind.TELEGRAM, default_team=team),
            actor=None,
        )
    widget = Inbox.objects.filter(kind=Inbox.Kind.WIDGET).order_by("pk").first()
    if widget is not None and not widget.allowed_origins:
        widget.allowed_origins = LOCAL_ORIGINS
        inbox_save(inbox=widget, actor=None)
