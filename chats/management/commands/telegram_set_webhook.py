"""`manage.py telegram_set_webhook [inbox …] [--base-url https://desk.example.com]`

Registers each Telegram inbox's webhook with Telegram (setWebhook, with the inbox secret as
`secret_token` and the update types Smartdesk handles as `allowed_updates`). Without inbox
names or ids, every active Telegram inbox.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q

from chats.channels.telegram.delivery import WebhookNotSet, telegram_webhook_register
from chats.models import Inbox


class Command(BaseCommand):
    help = "Register the Telegram webhook of Telegram inboxes (setWebhook)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("inboxes", nargs="*", help="Inbox ids or names (default: all).")
        parser.add_argument(
            "--base-url", default="", help="Public https base URL (default: PUBLIC_BASE_URL)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        inboxes = Inbox.objects.filter(kind=Inbox.Kind.TELEGRAM, is_active=True)
        if options["inboxes"]:
            wanted = Q()
            for name in options["inboxes"]:
                wanted |= Q(name=name) | (Q(pk=int(name)) if name.isdigit() else Q())
            inboxes = inboxes.filter(wanted)
        if not inboxes.exists():
            raise CommandError("No matching active Telegram inbox.")
        failed = 0
        for inbox in inboxes:
            try:
                url = telegram_webhook_register(inbox=inbox, base_url=options["base_url"])
            except WebhookNotSet as problem:
                failed += 1
                self.stderr.write(f"{inbox.name}: {problem}")
            else:
                self.stdout.write(f"{inbox.name}: {url}")
        if failed:
            raise CommandError(f"{failed} inbox(es) not registered.")
