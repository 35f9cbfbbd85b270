"""`python manage.py create_backoffice_client NAME`: a back-office client and its token.

The token (`<key>.<secret>`) and the webhook signing secret are printed once; only a hash of
the secret is kept. The same can be done in the Django admin ("Back-office clients").
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from customers.auth import integration_client_create
from customers.models import IntegrationClient


class Command(BaseCommand):
    help = "Create a back-office client (CRM, shop, checkout) and print its token once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["name"].strip()
        if not name:
            raise CommandError("Give the client a name.")
        if IntegrationClient.objects.filter(name=name).exists():
            raise CommandError(f"A client named {name!r} exists already.")
        created = integration_client_create(name=name)
        self.stdout.write(f"Client:          {name}")
        self.stdout.write(f"Token:           {created.token}")
        self.stdout.write(f"Webhook secret:  {created.client.webhook_secret}")
        self.stdout.write(
            f"Webhook URL:     /api/v1/backoffice/webhooks/{created.client.key}/order-status/"
        )
        self.stdout.write("The token is shown only now: store it in the back office.")
